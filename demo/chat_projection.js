// The chat's projection: one ordered conversation per room out of every participant's stream.
//
// Each participant appends ChatJoined, ChatMessage and ChatLeft events (JSON with `room`,
// `name` and, for messages, `text`) to a stream of their own, "chatmember-<session>".
// Every such event is linked into "chatroom-<room>" in the order the node stored it, so
// everyone in a room reads the same lines in the same order. fromAll() rather than
// fromCategory("chatmember"): categories need the standard $by_category projection,
// which a node may not run.
// The names here are also in chat_events.py: change them together.

var MEMBER_STREAM_PREFIX = "chatmember-";
var ROOM_STREAM_PREFIX = "chatroom-";

function linkIntoRoom(state, event) {
  var body = event.body;
  var fromParticipant = event.streamId.indexOf(MEMBER_STREAM_PREFIX) === 0;
  if (fromParticipant && body && typeof body.room === "string" && body.room !== "") {
    linkTo(ROOM_STREAM_PREFIX + body.room, event);
  }
  return state;
}

fromAll().when({
  ChatJoined: linkIntoRoom,
  ChatMessage: linkIntoRoom,
  ChatLeft: linkIntoRoom
});
