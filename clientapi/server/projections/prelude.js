// The JavaScript side of a user projection: the query API a projection's source calls
// (fromAll, when, emit, ...) and the entry points the node calls (__es_*).
//
// The node evaluates this file, then the user's query, in a fresh V8 context per projection
// run. Nothing here can reach files or the network: the context only has ECMAScript built-ins.
// Semantics follow EventStoreDB 23.10's runtime (Jint): a type-specific handler runs instead of
// `$any`, never both; JSON events with an empty body are skipped; `$deleted` receives
// (state, null, partition, isSoftDeleted).
(function (global) {
  "use strict";

  var SPECIAL_HANDLERS = { $init: 1, $initShared: 1, $any: 1, $created: 1, $deleted: 1 };
  var KNOWN_OPTIONS = {
    resultstreamname: "resultStreamName",
    $includelinks: "includeLinks",
    reorderevents: "reorderEvents",
    processinglag: "processingLag",
    bistate: "biState",
  };

  var def = {
    sourceChosen: false,
    allStreams: false,
    streams: [],
    categories: [],
    byStreams: false,
    partitionBy: null,
    handlers: null,
    transforms: [],          // [["transform"|"filter", fn], ...] applied to the state in order
    producesResults: false,
    definesStateTransform: false,
    resultStreamName: null,
    partitionResultStreamNamePattern: null,
    includeLinks: false,
    reorderEvents: false,
    processingLag: 0,
    biState: false,
  };

  var emitEnabled = false;
  var states = Object.create(null);       // partition -> state (the shared state lives apart)
  var sharedState = undefined;
  var lastResults = Object.create(null);   // partition -> result JSON text (or null)
  var touched = Object.create(null);
  var queue = [];
  var out = null;                          // what the event being handled produced
  var currentIndex = -1;

  // The runtime's own refusals read like the real server's messages (no "Error: " prefix).
  function RuntimeRefusal(message) { this.message = message; }
  function fail(message) { throw new RuntimeRefusal(message); }

  // --- the chain a query builds -------------------------------------------------------
  function chain(methods) {
    var result = {};
    methods.forEach(function (name) { result[name] = CHAIN_METHODS[name]; });
    return result;
  }

  var CHAIN_METHODS = {
    when: function (handlers) {
      if (handlers === null || typeof handlers !== "object") fail("when() expects an object of handlers");
      def.handlers = handlers;
      return chain(["transformBy", "filterBy", "outputState", "outputTo", "$defines_state_transform"]);
    },
    partitionBy: function (fn) {
      if (typeof fn !== "function") fail("partitionBy() expects a function");
      def.partitionBy = fn;
      return chain(["when"]);
    },
    foreachStream: function () {
      def.byStreams = true;
      return chain(["when"]);
    },
    outputState: function () {
      def.producesResults = true;
      return chain(["transformBy", "filterBy", "outputTo"]);
    },
    transformBy: function (fn) {
      if (typeof fn !== "function") fail("transformBy() expects a function");
      def.transforms.push(["transform", fn]);
      def.producesResults = true;
      def.definesStateTransform = true;
      return chain(["transformBy", "filterBy", "outputState", "outputTo"]);
    },
    filterBy: function (fn) {
      if (typeof fn !== "function") fail("filterBy() expects a function");
      def.transforms.push(["filter", fn]);
      def.producesResults = true;
      def.definesStateTransform = true;
      return chain(["transformBy", "filterBy", "outputState", "outputTo"]);
    },
    outputTo: function (resultStream, partitionPattern) {
      if (typeof resultStream !== "string" || !resultStream) fail("outputTo() expects a stream name");
      def.producesResults = true;
      def.resultStreamName = resultStream;
      if (partitionPattern !== undefined && partitionPattern !== null) {
        def.partitionResultStreamNamePattern = String(partitionPattern);
      }
      return {};
    },
    $defines_state_transform: function () {
      def.producesResults = true;
      def.definesStateTransform = true;
      return chain(["transformBy", "filterBy", "outputState", "outputTo"]);
    },
  };

  function chooseSource() {
    if (def.sourceChosen) fail("The source of a projection can be chosen only once");
    def.sourceChosen = true;
  }

  function flattenNames(args) {
    var names = [];
    Array.prototype.forEach.call(args, function (a) {
      if (Array.isArray(a)) a.forEach(function (x) { names.push(String(x)); });
      else names.push(String(a));
    });
    if (!names.length) fail("At least one stream is required");
    return names;
  }

  global.fromAll = function () {
    chooseSource();
    def.allStreams = true;
    return chain(["when", "partitionBy", "outputState", "foreachStream"]);
  };
  global.fromStream = function (streamId) {
    chooseSource();
    def.streams = flattenNames([streamId]);
    return chain(["when", "partitionBy", "outputState"]);
  };
  global.fromStreams = function () {
    chooseSource();
    def.streams = flattenNames(arguments);
    return chain(["when", "partitionBy", "outputState"]);
  };
  function fromCategories() {
    chooseSource();
    var categories = flattenNames(arguments);
    if (categories.length === 1) {
      def.categories = categories;
      return chain(["when", "partitionBy", "outputState", "foreachStream"]);
    }
    def.streams = categories.map(function (c) { return "$ce-" + c; });
    return chain(["when", "partitionBy", "outputState"]);
  }
  global.fromCategory = fromCategories;
  global.fromCategories = fromCategories;

  global.options = function (opts) {
    if (opts === null || typeof opts !== "object") fail("options() expects an object");
    Object.keys(opts).forEach(function (key) {
      var name = KNOWN_OPTIONS[key.toLowerCase()];
      if (!name) fail("Unrecognized option: " + key);
      var value = opts[key];
      if (name === "resultStreamName") {
        if (typeof value !== "string") fail("Option " + key + " must be a string");
      } else if (name === "processingLag") {
        if (typeof value !== "number") fail("Option " + key + " must be a number");
      } else if (typeof value !== "boolean") {
        fail("Option " + key + " must be a boolean");
      }
      def[name] = value;
    });
  };

  function addHandler(key, fn) {
    if (typeof fn !== "function") fail("A handler must be a function");
    if (!def.handlers) def.handlers = {};
    def.handlers[key] = fn;
  }
  global.on_event = function (eventType, fn) { addHandler(String(eventType), fn); };
  global.on_any = function (fn) { addHandler("$any", fn); };

  // --- output functions --------------------------------------------------------------
  function record(stream, eventType, data, isJson, metadata) {
    if (!out) fail("Events can only be emitted while handling an event");
    if (!emitEnabled) fail("'emit' is not allowed by the projection/configuration/mode");
    if (typeof stream !== "string" || !stream) fail("The stream to emit to must be a non-empty string");
    if (metadata !== undefined && metadata !== null && typeof metadata !== "object") {
      fail("Emitted event metadata must be an object");
    }
    out.emits.push([currentIndex, stream, eventType, data, isJson, metadata == null ? null : metadata]);
  }

  global.emit = function (streamId, eventType, body, metadata) {
    if (body === null || typeof body !== "object") fail("The body of an emitted event must be an object");
    if (typeof eventType !== "string" || !eventType) fail("The type of an emitted event must be a non-empty string");
    record(streamId, eventType, JSON.stringify(body), true, metadata);
  };
  global.linkTo = function (streamId, event, metadata) {
    if (!event || event.sequenceNumber === undefined || !event.streamId) fail("linkTo() expects an event");
    record(streamId, "$>", event.sequenceNumber + "@" + event.streamId, false, metadata);
  };
  global.linkStreamTo = function (streamId, linkedStreamId, metadata) {
    record(streamId, "$@", String(linkedStreamId), false, metadata);
  };
  global.copyTo = function () { /* a no-op in the 23.10 runtime */ };
  global.log = function () {
    if (out) out.logs.push(Array.prototype.map.call(arguments, describe).join(" "));
  };

  function describe(value) {
    if (typeof value === "string") return value;
    try { return JSON.stringify(value); } catch (e) { return String(value); }
  }

  // --- the event object handlers receive ----------------------------------------------
  function parseOrUndefined(text) {
    if (text === null || text === undefined) return undefined;
    try { return JSON.parse(text); } catch (e) { return undefined; }
  }

  function lazy(target, name, compute) {
    Object.defineProperty(target, name, {
      enumerable: true, configurable: true,
      get: function () {
        var value = compute();
        Object.defineProperty(target, name, { value: value, enumerable: true, writable: true, configurable: true });
        return value;
      },
    });
  }

  function makeEvent(item, partition) {
    var event = {
      streamId: item.s,
      sequenceNumber: item.n,
      eventType: item.t,
      eventId: item.id,
      isJson: item.j,
      bodyRaw: item.d === "" ? null : item.d,
      metadataRaw: item.m === "" ? null : item.m,
      linkMetadataRaw: item.lm === undefined ? null : item.lm,
      partition: partition,
      category: item.c === undefined ? null : item.c,
    };
    var body;
    var parsed = false;
    function bodyValue() {
      if (!parsed) { body = item.j ? parseOrUndefined(item.d) : undefined; parsed = true; }
      return body;
    }
    Object.defineProperty(event, "body", { enumerable: true, get: bodyValue });
    Object.defineProperty(event, "data", { enumerable: true, get: bodyValue });
    lazy(event, "metadata", function () {
      var m = parseOrUndefined(event.metadataRaw);
      return m === undefined ? null : m;
    });
    lazy(event, "linkMetadata", function () {
      var m = parseOrUndefined(event.linkMetadataRaw);
      return m === undefined ? null : m;
    });
    return event;
  }

  // --- processing --------------------------------------------------------------------
  function isPartitioned() { return def.byStreams || def.partitionBy !== null; }

  function initialState() {
    if (def.handlers && typeof def.handlers.$init === "function") return def.handlers.$init();
    return {};
  }

  function typeHandlers() {
    var handlers = def.handlers || {};
    return Object.keys(handlers).filter(function (k) {
      return !SPECIAL_HANDLERS[k] && typeof handlers[k] === "function";
    });
  }

  function handlerFor(eventType) {
    var handlers = def.handlers || {};
    if (!SPECIAL_HANDLERS[eventType] && typeof handlers[eventType] === "function") return handlers[eventType];
    if (typeof handlers.$any === "function") return handlers.$any;
    if (typeHandlers().length) return null;  // filtered out by the source anyway
    return defaultHandler;
  }

  // Without any handler the state is the last event's raw body (a string, kept verbatim).
  function defaultHandler(state, event) {
    return event.bodyRaw;
  }

  function partitionOf(event) {
    if (def.byStreams) return event.streamId;
    if (def.partitionBy) {
      var key = def.partitionBy(event);
      if (key === null || key === undefined || key === "") return "";
      return String(key);
    }
    return "";
  }

  function callHandler(fn, partition, args) {
    if (def.biState) {
      var pair = [states[partition], sharedState];
      var returned = fn.apply(null, [pair].concat(args));
      if (Array.isArray(returned)) pair = returned;
      states[partition] = pair[0];
      sharedState = pair[1];
    } else {
      var r = fn.apply(null, [states[partition]].concat(args));
      if (r !== undefined) states[partition] = r;
    }
    touched[partition] = true;
  }

  function ensurePartition(partition, event) {
    if (partition in states) return;
    states[partition] = initialState();
    touched[partition] = true;
    if (partition !== "") {
      out.created.push([currentIndex, partition]);
      if (def.handlers && typeof def.handlers.$created === "function") {
        // called for its effects on the state: what it returns is ignored
        def.handlers.$created.call(undefined, def.biState ? [states[partition], sharedState] : states[partition],
                                   event);
      }
    }
  }

  function resultOf(partition) {
    var value = states[partition];
    for (var i = 0; i < def.transforms.length; i++) {
      var step = def.transforms[i];
      if (step[0] === "transform") {
        value = step[1](value);
        if (value === null || value === undefined) return null;
      } else if (step[1](value) !== true) {  // only a boolean true keeps the result
        return null;
      }
    }
    return value === undefined ? null : JSON.stringify(value);
  }

  function noteResult(partition) {
    if (!def.producesResults) return;
    var text = resultOf(partition);
    var previous = partition in lastResults ? lastResults[partition] : null;
    if (text !== previous) {
      lastResults[partition] = text;
      out.results.push([currentIndex, partition, text]);
    }
  }

  function handleDeleted(item) {
    var handler = def.handlers && def.handlers.$deleted;
    if (typeof handler !== "function" || !def.byStreams) return;
    var partition = item.del;
    if (!(partition in states)) return;
    // The 23.10 runtime always passes false for isSoftDeleted.
    callHandler(handler, partition, [null, partition, false]);
    noteResult(partition);
  }

  function handleEvent(item) {
    var raw = item.d === null || item.d === undefined ? "" : String(item.d);
    if (item.j ? raw.trim() === "" : raw === "") return;  // events without data reach no handler
    var handler = handlerFor(item.t);
    if (!handler) return;
    var event = makeEvent(item, "");
    var partition = partitionOf(event);
    event.partition = partition;
    ensurePartition(partition, event);
    callHandler(handler, partition, [event]);
    noteResult(partition);
  }

  function handledTypes() {
    var handlers = def.handlers || {};
    var types = typeHandlers();
    if (typeof handlers.$any === "function" || !types.length) return null;
    return types;
  }

  function errorText(e) {
    if (e instanceof RuntimeRefusal) return e.message;
    if (e instanceof Error) return e.name + ": " + e.message;
    return String(e);
  }

  // --- entry points for the node -------------------------------------------------------
  // Runs the user's query at the top level (an indirect eval: its declarations become globals).
  global.__es_compile = function (source) {
    try {
      (0, eval)(source);
      return JSON.stringify({ fault: null });
    } catch (e) {
      return JSON.stringify({ fault: errorText(e) });
    }
  };

  global.__es_describe = function () {
    if (!def.sourceChosen) fail("A projection must choose its source first (fromAll, fromStream, fromCategory ...)");
    var handlers = def.handlers || {};
    return JSON.stringify({
      allStreams: def.allStreams,
      streams: def.streams,
      categories: def.categories,
      events: handledTypes(),
      byStreams: def.byStreams,
      byCustomPartitions: def.partitionBy !== null,
      producesResults: def.producesResults,
      definesStateTransform: def.definesStateTransform,
      definesFold: def.handlers !== null,
      handlesDeletedNotifications: typeof handlers.$deleted === "function",
      isBiState: def.biState || typeof handlers.$initShared === "function",
      includeLinks: def.includeLinks,
      reorderEvents: def.reorderEvents,
      processingLag: def.processingLag,
      resultStreamName: def.resultStreamName,
      partitionResultStreamNamePattern: def.partitionResultStreamNamePattern,
    });
  };

  // Loads persisted state: {states: {partition: json}, results: {partition: json|null}, shared: json|null}.
  global.__es_load = function (snapshot, allowEmit) {
    emitEnabled = allowEmit === true;
    if (def.handlers && typeof def.handlers.$initShared === "function") def.biState = true;
    out = { emits: [], results: [], created: [], logs: [] };
    currentIndex = -1;
    try {
      Object.keys(snapshot.states).forEach(function (p) { states[p] = parseState(snapshot.states[p]); });
      Object.keys(snapshot.results).forEach(function (p) { lastResults[p] = snapshot.results[p]; });
      if (def.biState) {
        sharedState = snapshot.shared !== null && snapshot.shared !== undefined
          ? JSON.parse(snapshot.shared) : def.handlers.$initShared();
      }
      if (!isPartitioned() && !("" in states)) {
        states[""] = initialState();
        touched[""] = true;
      }
      return JSON.stringify({ fault: null, states: takeTouchedStates() });
    } catch (e) {
      return JSON.stringify({ fault: errorText(e) });
    } finally {
      out = null;
    }
  };

  global.__es_enqueue = function (items) {
    for (var i = 0; i < items.length; i++) queue.push(items[i]);
    return queue.length;
  };

  function parseState(text) {
    try { return JSON.parse(text); } catch (e) { return text; }  // a string state, kept verbatim
  }

  // A string state is kept as it is (not JSON-quoted), as the real server does.
  function stateText(value) {
    if (value === undefined || value === null) return null;
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function takeTouchedStates() {
    var result = {};
    Object.keys(touched).forEach(function (p) { result[p] = stateText(states[p]); });
    touched = Object.create(null);
    return result;
  }

  // Handles queued events until the queue is empty or `budgetMs` has passed; the node
  // calls this repeatedly, so one call never holds V8 (or the node) for long.
  global.__es_run = function (firstIndex, budgetMs) {
    var started = Date.now();
    out = { emits: [], results: [], created: [], logs: [] };
    var handled = 0;
    var fault = null;
    try {
      while (queue.length) {
        if (handled > 0 && Date.now() - started >= budgetMs) break;
        var item = queue[0];
        currentIndex = firstIndex + handled;
        if (item.del !== undefined) handleDeleted(item);
        else handleEvent(item);
        queue.shift();
        handled++;
      }
    } catch (e) {
      fault = errorText(e);
      queue = [];
    }
    var produced = out;
    out = null;
    currentIndex = -1;
    return JSON.stringify({
      handled: handled,
      remaining: queue.length,
      fault: fault,
      emits: produced.emits,
      results: produced.results,
      created: produced.created,
      logs: produced.logs,
      states: takeTouchedStates(),
      shared: def.biState ? JSON.stringify(sharedState === undefined ? null : sharedState) : null,
    });
  };

  // The current result of a partition, computed on demand (for the /result endpoint).
  global.__es_result = function (partition) {
    if (!(partition in states)) return null;
    if (!def.transforms.length) return stateText(states[partition]);
    return resultOf(partition);
  };

  // Timers (added by the embedding) would run code outside any handler call and its
  // timeout; a projection has no use for them.
  global.setTimeout = undefined;
  global.clearTimeout = undefined;
  if (typeof Atomics === "object") delete Atomics.waitAsync;
})(globalThis);
