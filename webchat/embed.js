/*
 * The chat page's widget side (plain JavaScript, no build step): the organisation's colour,
 * the pre-chat name question, the office status with the form that leaves a message for the
 * officers outside office hours, and, inside the widget's iframe (`?embed=1&origin=...`), the
 * talk with the loader on the host page (webchat/widget.js.tmpl) over postMessage:
 *   page -> loader: {type: "helpdesk-widget", event: "message" | "close" | "ready"}
 *   loader -> page: {type: "helpdesk-widget", event: "open"}
 * Runs after webchat.js (on DOMContentLoaded), which exposes `window.__webchat`.
 */
(function () {
  "use strict";

  var TYPE = "helpdesk-widget";
  // As the server checks it (helpdesk.conversation.flows.accept "name"): letters first, then
  // letters, spaces, dots, apostrophes and hyphens.
  var NAME_PATTERN = /^\p{L}[\p{L} .'\-]*$/u;

  function byId(id) {
    return document.getElementById(id);
  }

  function init() {
    var root = byId("webchat");
    var chat = window.__webchat;
    if (!root) {
      return;
    }
    applyColour(root.getAttribute("data-brand"));
    var params = new URLSearchParams(window.location.search);
    var embedded = params.get("embed") === "1";
    var parentOrigin = embedded ? safeOrigin(params.get("origin")) : null;
    if (embedded) {
      setUpEmbedding(root, parentOrigin);
    }
    if (chat && chat.waitingForName) {
      askName(root, chat);
    }
    loadOfficeStatus(chat);
  }

  // --- colour ----------------------------------------------------------------------------------
  function applyColour(colour) {
    if (!/^#[0-9a-f]{6}$/i.test(colour || "")) {
      return;
    }
    var style = document.documentElement.style;
    style.setProperty("--brand", colour);
    style.setProperty("--brand-dark", shade(colour, 0.75));
  }

  function shade(colour, factor) {
    var out = "#";
    for (var i = 1; i < 7; i += 2) {
      var value = Math.round(parseInt(colour.slice(i, i + 2), 16) * factor);
      out += ("0" + value.toString(16)).slice(-2);
    }
    return out;
  }

  // --- inside the widget's iframe ----------------------------------------------------------------
  function safeOrigin(text) {
    try {
      var url = new URL(text || "");
      return url.protocol === "https:" || url.protocol === "http:" ? url.origin : null;
    } catch (e) {
      return null;
    }
  }

  function setUpEmbedding(root, parentOrigin) {
    document.body.classList.add("chat-embedded");
    var close = byId("chat-close");
    function tell(event) {
      if (parentOrigin && window.parent !== window) {
        window.parent.postMessage({ type: TYPE, event: event }, parentOrigin);
      }
    }
    close.hidden = false;
    close.addEventListener("click", function () {
      tell("close");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        tell("close");
      }
    });
    root.addEventListener("webchat:message", function () {
      tell("message");
    });
    window.addEventListener("message", function (event) {
      if (event.origin !== parentOrigin || !event.data || event.data.type !== TYPE) {
        return;
      }
      if (event.data.event === "open") {
        var first = document.querySelector(
          "#chat-prechat:not([hidden]) input, #chat-offline:not([hidden]) input, #chat-input"
        );
        if (first) {
          first.focus();
        }
      }
    });
    tell("ready");
  }

  // --- pre-chat name -------------------------------------------------------------------------------
  function askName(root, chat) {
    var panel = byId("chat-prechat");
    var form = byId("chat-prechat-form");
    var field = byId("chat-prechat-name");
    var error = byId("chat-prechat-error");
    root.classList.add("chat--prechat");
    panel.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = field.value.replace(/\s+/g, " ").trim();
      if (!name || name.length > 80 || !NAME_PATTERN.test(name)) {
        error.textContent = "Mohon tuliskan nama Anda dengan huruf, misalnya Siti Aminah.";
        field.setAttribute("aria-invalid", "true");
        field.focus();
        return;
      }
      field.removeAttribute("aria-invalid");
      error.textContent = "";
      panel.hidden = true;
      root.classList.remove("chat--prechat");
      chat.begin(name);
      byId("chat-input").focus();
    });
  }

  // --- office status and messages left outside office hours -------------------------------------
  function loadOfficeStatus(chat) {
    if (!window.fetch) {
      return;
    }
    fetch("status", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (status) {
        if (status && status.open === false) {
          showOffice(status, chat);
        }
      })
      .catch(function () {
        /* the chat works without it */
      });
  }

  function showOffice(status, chat) {
    var banner = byId("chat-office");
    var openButton = byId("chat-offline-open");
    var panel = byId("chat-offline");
    byId("chat-office-text").textContent =
      "Petugas kami sedang di luar jam layanan (" + status.hours + "). " +
      "Asisten virtual tetap dapat menjawab pertanyaan Anda.";
    banner.hidden = false;
    var root = byId("webchat");
    function closeSheet() {
      panel.hidden = true;
      root.classList.remove("chat--sheet");
      openButton.setAttribute("aria-expanded", "false");
      openButton.focus();
    }
    openButton.addEventListener("click", function () {
      panel.hidden = false;
      root.classList.add("chat--sheet");
      openButton.setAttribute("aria-expanded", "true");
      var name = byId("chat-offline-name");
      if (!name.value && chat && chat.state.name) {
        name.value = chat.state.name;
      }
      name.focus();
    });
    byId("chat-offline-cancel").addEventListener("click", closeSheet);
    byId("chat-offline-done").addEventListener("click", closeSheet);
    byId("chat-offline-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sendOffline(chat);
    });
  }

  var FIELDS = ["name", "email", "message"];

  function sendOffline(chat) {
    var button = byId("chat-offline-send");
    var result = byId("chat-offline-result");
    var body = { session_id: chat && chat.state.sessionId };
    FIELDS.forEach(function (field) {
      body[field] = byId("chat-offline-" + field).value;
    });
    button.disabled = true;
    result.textContent = "Mengirim pesan…";
    fetch("offline", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      })
      .then(function (reply) {
        button.disabled = false;
        showErrors(reply.ok ? {} : reply.data.errors || {});
        if (reply.ok) {
          byId("chat-offline-form").hidden = true;
          byId("chat-offline-done").hidden = false;
          result.textContent =
            "Terima kasih. Pesan Anda sudah kami catat sebagai tiket " + reply.data.ticket +
            ". Petugas akan membalas ke e-mail Anda mulai " + reply.data.next_opening +
            ". Simpan nomor tiket tersebut untuk mengecek statusnya.";
        } else {
          result.textContent = (reply.data.errors && reply.data.errors.form) ||
            "Mohon periksa kembali isian yang ditandai.";
        }
      })
      .catch(function () {
        button.disabled = false;
        result.textContent = "Pesan belum terkirim karena gangguan jaringan. Silakan coba lagi.";
      });
  }

  function showErrors(errors) {
    var first = null;
    FIELDS.forEach(function (field) {
      var input = byId("chat-offline-" + field);
      var error = byId("chat-offline-" + field + "-error");
      error.textContent = errors[field] || "";
      if (errors[field]) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
    if (first) {
      first.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
