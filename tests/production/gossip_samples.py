"""Gossip documents in the shapes real servers send (trimmed to the fields that matter).

`v5_*`: EventStore 3.x-5.x (Master/Slave, externalHttpIp/Port; a dead member stays listed
with isAlive false). `v20_*`: EventStoreDB 20+ (Leader/Follower, httpEndPointIp/Port)."""


def v5_member(port, state, alive=True, epoch=0, instance="i"):
    return {"instanceId": "{}-{}".format(instance, port), "timeStamp": "2026-11-26T13:31:03.1Z",
            "state": state, "isAlive": alive,
            "internalTcpIp": "127.0.0.1", "internalTcpPort": port + 3, "internalSecureTcpPort": 0,
            "externalTcpIp": "127.0.0.1", "externalTcpPort": port + 2, "externalSecureTcpPort": 0,
            "internalHttpIp": "127.0.0.1", "internalHttpPort": port + 1,
            "externalHttpIp": "127.0.0.1", "externalHttpPort": port,
            "lastCommitPosition": 5621, "writerCheckpoint": 6281, "chaserCheckpoint": 6281,
            "epochPosition": 0, "epochNumber": epoch, "epochId": "a9277d59", "nodePriority": 0}


def v20_member(port, state, alive=True, epoch=0, host="127.0.0.1"):
    return {"instanceId": "n-{}".format(port), "timeStamp": "2026-11-26T13:31:03.1Z",
            "state": state, "isAlive": alive,
            "internalTcpIp": host, "internalTcpPort": 0, "internalSecureTcpPort": 0,
            "externalTcpIp": host, "externalTcpPort": 0, "externalSecureTcpPort": 0,
            "httpEndPointIp": host, "httpEndPointPort": port,
            "lastCommitPosition": 10, "writerCheckpoint": 20, "chaserCheckpoint": 20,
            "epochPosition": 0, "epochNumber": epoch, "epochId": "e", "nodePriority": 0,
            "isReadOnlyReplica": False, "esVersion": "24.10.0"}


def document(members, server_port=23101):
    return {"members": members, "serverIp": "127.0.0.1", "serverPort": server_port}


# Before the leader was killed: master 23120, slaves 23110 and 23100.
V5_HEALTHY = document([v5_member(23120, "Master"), v5_member(23110, "Slave"), v5_member(23100, "Slave")])
# After: the old master is still listed as Master but dead; 23100 leads in a newer epoch.
V5_AFTER_FAILOVER = document([v5_member(23120, "Master", alive=False), v5_member(23110, "Slave", epoch=1),
                              v5_member(23100, "Master", epoch=1)])
V20_HEALTHY = document([v20_member(2113, "Follower"), v20_member(2114, "Leader"),
                        v20_member(2115, "Follower"), v20_member(2116, "ReadOnlyReplica")], 2113)
V20_ELECTION = document([v20_member(2113, "PreLeader"), v20_member(2114, "Follower", alive=False)], 2113)
