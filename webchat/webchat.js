/*
 * Web chat of the helpdesk assistant: plain JavaScript, no build step, no framework.
 *
 * Talks to Rasa's socket.io channel (credentials.yml `socketio:` with
 * `session_persistence: true`):
 *   - on every (re)connection it sends `session_request` with the stored session id and waits
 *     for `session_confirm` (which joins this socket to the session's room) before sending;
 *   - user messages go out as `user_uttered` {message, session_id};
 *   - bot messages come in as `bot_uttered`: {text}, {text, quick_replies: [{title, payload}]},
 *     {attachment: {type: "image", payload: {src}}}, or a custom payload with text, buttons and
 *     image.
 * The session id is kept in localStorage (the conversation continues after a reload or in a
 * new tab); the transcript in sessionStorage (restored on reload in the same tab, gone when the
 * tab closes, so a shared computer does not show it to the next user). A new session starts
 * with a hidden "/greet", which the assistant answers with its session greeting and the menu.
 *
 * When the profile asks a visitor's name first (`data-prechat-name="true"`), a new visitor's
 * connection waits for `window.__webchat.begin(name)` (embed.js's pre-chat form); the name goes
 * with `session_request`. Every bot message is also announced as a `webchat:message` event on
 * the chat element (embed.js counts them for the widget's unread badge).
 *
 * Bot text is always rendered with textContent (links are built as elements), never innerHTML.
 * `window.__webchat` exposes the socket and state for tests and debugging.
 */
(function () {
  "use strict";

  var SESSION_KEY = "helpdesk-webchat:session";
  var HISTORY_KEY = "helpdesk-webchat:history";
  var NAME_KEY = "helpdesk-webchat:name";
  var HISTORY_LIMIT = 150;
  var TYPING_TIMEOUT_MS = 30000;
  var USER_EVENT = "user_uttered";
  var BOT_EVENT = "bot_uttered";
  var GREETING_PAYLOAD = "/greet";

  var LABELS = {
    connecting: "Menghubungkan…",
    connected: "Terhubung",
    reconnecting: "Menyambungkan ulang…",
    disconnected: "Terputus",
    you: "Anda: ",
    bot: "Petugas virtual: ",
    choices: "Pilihan jawaban",
    image: "Gambar dari petugas virtual",
    resumed: "Melanjutkan percakapan sebelumnya. Ketik \"menu\" untuk melihat pilihan layanan.",
    restarted: "Percakapan baru dimulai.",
    noSocket: "Layanan obrolan tidak dapat dimuat. Muat ulang halaman ini atau coba lagi nanti.",
  };

  var root = document.getElementById("webchat");
  var body = root.querySelector(".chat-body");
  var log = document.getElementById("chat-log");
  var statusEl = document.getElementById("chat-status");
  var statusText = document.getElementById("chat-status-text");
  var typingBubble = document.getElementById("chat-typing-bubble");
  var reconnectBox = document.getElementById("chat-reconnect");
  var reconnectButton = document.getElementById("chat-reconnect-button");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var restartButton = document.getElementById("chat-restart");

  // --- storage (may be unavailable: private mode, blocked cookies) ---------------------------
  function storageGet(storage, key) {
    try {
      return window[storage].getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(storage, key, value) {
    try {
      if (value === null) {
        window[storage].removeItem(key);
      } else {
        window[storage].setItem(key, value);
      }
    } catch (e) {
      /* keep working without persistence */
    }
  }

  var state = {
    sessionId: storageGet("localStorage", SESSION_KEY),
    ready: false,           // session confirmed on the current connection
    needsGreeting: false,   // send the hidden greeting once the session is confirmed
    pending: [],            // messages typed while not ready, sent after session_confirm
    history: [],            // the transcript: {from, text, buttons, image, chosen, closed}
    restarting: false,
    typingTimer: null,
    name: storageGet("localStorage", NAME_KEY),
  };
  // A new visitor the profile asks for a name: connect once it is given (embed.js).
  var waitForName =
    root.getAttribute("data-prechat-name") === "true" && !state.name && !state.sessionId;

  // --- rendering -----------------------------------------------------------------------------
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
  var TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

  /** Append `text` to `parent` as text nodes, with http(s) URLs as links. */
  function appendText(parent, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var url = match[0].replace(TRAILING_PUNCTUATION, "");
      if (match.index > last) {
        parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      var link = document.createElement("a");
      link.href = url;
      link.textContent = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.appendChild(link);
      last = match.index + url.length;
      URL_PATTERN.lastIndex = last;
    }
    if (last < text.length) {
      parent.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  /** A safe image URL (http, https, or relative to this page), or null. */
  function safeImageUrl(src) {
    if (typeof src !== "string" || !src) {
      return null;
    }
    try {
      var url = new URL(src, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function scrollToEnd() {
    body.scrollTop = body.scrollHeight;
  }

  function renderEntry(entry) {
    var item = document.createElement("li");
    item.className = "msg msg--" + entry.from;

    if (entry.from !== "note") {
      var sender = document.createElement("span");
      sender.className = "msg__sender";
      sender.textContent = entry.from === "user" ? LABELS.you : LABELS.bot;
      item.appendChild(sender);
    }
    if (entry.text) {
      var bubble = document.createElement("p");
      bubble.className = "msg__bubble";
      appendText(bubble, entry.text);
      item.appendChild(bubble);
    }
    if (entry.image) {
      var image = document.createElement("img");
      image.className = "msg__image";
      image.src = entry.image;
      image.alt = entry.imageAlt || LABELS.image;
      image.loading = "lazy";
      image.referrerPolicy = "no-referrer";
      image.addEventListener("load", scrollToEnd);
      item.appendChild(image);
    }
    if (entry.buttons && entry.buttons.length) {
      item.appendChild(renderButtons(entry));
    }
    log.appendChild(item);
    scrollToEnd();
  }

  function renderButtons(entry) {
    var group = document.createElement("div");
    group.className = "chips";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", LABELS.choices);
    entry.buttons.forEach(function (button, index) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = button.title;
      chip.disabled = Boolean(entry.closed);
      if (entry.chosen === index) {
        chip.classList.add("chip--chosen");
        chip.setAttribute("aria-pressed", "true");
      }
      chip.addEventListener("click", function () {
        if (entry.closed) {
          return;
        }
        entry.closed = true;
        entry.chosen = index;
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (other) {
          other.disabled = true;
        });
        chip.classList.add("chip--chosen");
        chip.setAttribute("aria-pressed", "true");
        saveHistory();
        sendMessage(button.payload, button.title);
        if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) {
          input.focus();
        }
      });
      group.appendChild(chip);
    });
    return group;
  }

  function addEntry(entry) {
    state.history.push(entry);
    if (state.history.length > HISTORY_LIMIT) {
      state.history.splice(0, state.history.length - HISTORY_LIMIT);
    }
    saveHistory();
    renderEntry(entry);
  }

  function addNote(text) {
    renderEntry({ from: "note", text: text });
  }

  function saveHistory() {
    if (!state.sessionId) {
      return;
    }
    var data = JSON.stringify({ sessionId: state.sessionId, entries: state.history });
    storageSet("sessionStorage", HISTORY_KEY, data);
  }

  function restoreHistory() {
    var raw = storageGet("sessionStorage", HISTORY_KEY);
    if (!raw || !state.sessionId) {
      return false;
    }
    try {
      var data = JSON.parse(raw);
      if (data.sessionId !== state.sessionId || !Array.isArray(data.entries)) {
        return false;
      }
      state.history = data.entries.filter(function (entry) {
        return entry && (entry.from === "user" || entry.from === "bot");
      });
    } catch (e) {
      return false;
    }
    state.history.forEach(renderEntry);
    return state.history.length > 0;
  }

  // --- status and typing indicator -----------------------------------------------------------
  function setStatus(name) {
    statusEl.setAttribute("data-state", name);
    statusText.textContent = LABELS[name];
    reconnectBox.hidden = name !== "disconnected";
  }

  function showTyping() {
    typingBubble.hidden = false;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    typingBubble.hidden = true;
  }

  // --- messages ------------------------------------------------------------------------------
  /** The renderable parts of a `bot_uttered` payload, or null. */
  function parseBotMessage(data) {
    if (typeof data === "string") {
      data = { text: data };
    }
    if (!data || typeof data !== "object") {
      return null;
    }
    var text = typeof data.text === "string" ? data.text : "";
    var rawButtons = Array.isArray(data.quick_replies) ? data.quick_replies : data.buttons;
    var buttons = (Array.isArray(rawButtons) ? rawButtons : [])
      .filter(function (b) {
        return b && typeof b.title === "string" && typeof b.payload === "string";
      })
      .map(function (b) {
        return { title: b.title, payload: b.payload };
      });
    var image = null;
    if (typeof data.image === "string") {
      image = data.image;
    } else if (data.attachment && data.attachment.type === "image" && data.attachment.payload) {
      image = data.attachment.payload.src;
    }
    image = safeImageUrl(image);
    if (!text && !buttons.length && !image) {
      return null;
    }
    return { from: "bot", text: text, buttons: buttons, image: image };
  }

  function emitPending() {
    while (state.ready && state.pending.length) {
      var message = state.pending.shift();
      socket.emit(USER_EVENT, { message: message, session_id: state.sessionId });
    }
  }

  /** Send `message` to the assistant; show `display` (or the message) as the user's bubble. */
  /** Once the user answers (a button or typed text), every earlier step's buttons are spent:
   * disable them all, so an old "Ya" or rating cannot be pressed into a later step. */
  function closeOpenButtons() {
    state.history.forEach(function (entry) {
      if (entry.buttons && entry.buttons.length) {
        entry.closed = true;
      }
    });
    Array.prototype.forEach.call(log.querySelectorAll(".chip"), function (chip) {
      chip.disabled = true;
    });
  }

  function sendMessage(message, display) {
    if (display !== null) {
      closeOpenButtons();
      addEntry({ from: "user", text: display || message });
    }
    state.pending.push(message);
    showTyping();
    emitPending();
  }

  // --- socket.io -----------------------------------------------------------------------------
  if (typeof window.io !== "function") {
    setStatus("disconnected");
    reconnectBox.hidden = true;
    addNote(LABELS.noSocket);
    return;
  }

  var socket = window.io({
    path: root.getAttribute("data-socket-path") || "/socket.io",
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 10000,
    autoConnect: !waitForName,
  });

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: state.sessionId, name: state.name || undefined });
  });

  socket.on("session_confirm", function (sessionId) {
    var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
    if (!id) {
      return;
    }
    state.sessionId = id;
    storageSet("localStorage", SESSION_KEY, id);
    state.ready = true;
    state.restarting = false;
    setStatus("connected");
    if (state.needsGreeting) {
      state.needsGreeting = false;
      state.pending.unshift(GREETING_PAYLOAD);
      showTyping();
    }
    emitPending();
  });

  socket.on(BOT_EVENT, function (data) {
    var entry = parseBotMessage(data);
    if (!entry) {
      return;
    }
    hideTyping();
    addEntry(entry);
    root.dispatchEvent(new CustomEvent("webchat:message", { detail: entry }));
  });

  socket.on("disconnect", function (reason) {
    state.ready = false;
    hideTyping();
    if (state.restarting) {
      setStatus("connecting");
    } else if (reason === "io server disconnect" || reason === "io client disconnect") {
      setStatus("disconnected");  // no automatic reconnection in these two cases
    } else {
      setStatus("reconnecting");
    }
  });

  socket.on("connect_error", function () {
    setStatus(socket.active ? "reconnecting" : "disconnected");
  });

  socket.io.on("reconnect_attempt", function () {
    setStatus("reconnecting");
  });

  socket.io.on("reconnect_failed", function () {
    setStatus("disconnected");
  });

  // --- user interface ------------------------------------------------------------------------
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      return;
    }
    input.value = "";
    sendMessage(text);
  });

  reconnectButton.addEventListener("click", function () {
    setStatus("reconnecting");
    socket.connect();
  });

  restartButton.addEventListener("click", function () {
    // A new socket connection, so the old session's room (and any late answer) is left behind.
    storageSet("localStorage", SESSION_KEY, null);
    storageSet("sessionStorage", HISTORY_KEY, null);
    state.sessionId = null;
    state.history = [];
    state.pending = [];
    state.ready = false;
    state.needsGreeting = true;
    state.restarting = true;
    hideTyping();
    log.textContent = "";
    addNote(LABELS.restarted);
    setStatus("connecting");
    socket.disconnect();
    socket.connect();
  });

  // --- start ---------------------------------------------------------------------------------
  if (!state.sessionId) {
    state.needsGreeting = true;
  } else if (!restoreHistory()) {
    addNote(LABELS.resumed);
  }

  /** Start a new visitor's chat with the name the pre-chat form asked for. */
  function begin(name) {
    state.name = name;
    storageSet("localStorage", NAME_KEY, name);
    if (!socket.connected) {
      socket.connect();
    }
  }

  window.__webchat = {
    socket: socket,
    state: state,
    send: sendMessage,
    begin: begin,
    waitingForName: waitForName,
  };
})();
