/* Agent desk: live queue, live conversation, canned responses, confirmations.
 *
 * Served from /static (the Content-Security-Policy allows scripts from 'self' only, no inline
 * script). Everything from the server is inserted as text (textContent), never as HTML: the
 * citizens' messages are untrusted. Requests that change state carry the session's CSRF token
 * in the X-CSRF-Token header (from <meta name="csrf-token">).
 */
(function () {
  "use strict";

  var QUEUE_INTERVAL_MS = 5000;
  var EVENTS_INTERVAL_MS = 2000;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function getJson(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
        throw new Error("unauthorized");
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  /* -- confirmations (forms with data-confirm) --------------------------------------------- */
  function setupConfirmations() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  /* -- flash messages after a redirect to an anchor (e.g. #kontak) ----------------------------- */
  function placeFlashAtAnchor() {
    // The browser scrolls to the anchor, so a message at the top of the page would be off screen
    // (on phones always): show it at the top of the section the anchor names instead.
    var flash = document.querySelector("main > .flash");
    var id = window.location.hash ? window.location.hash.slice(1) : "";
    if (!flash || !id) {
      return;
    }
    var target = document.getElementById(id);
    if (!target || target.tagName === "MAIN") {
      return;
    }
    var heading = target.querySelector("h2");
    if (heading && heading.parentNode === target) {
      target.insertBefore(flash, heading.nextSibling);
    } else {
      target.insertBefore(flash, target.firstChild);
    }
  }

  /* -- the queue ------------------------------------------------------------------------------ */
  function hiddenInput(name, value) {
    var input = el("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function takeForm(entry) {
    var form = el("form", "inline-form");
    form.method = "post";
    form.action = "/conversations/" + entry.id + "/take";
    form.appendChild(hiddenInput("csrf_token", csrfToken()));
    var button = el("button", "button primary", "Ambil");
    button.type = "submit";
    button.dataset.action = "take";
    form.appendChild(button);
    return form;
  }

  function assignForm(entry, agents) {
    var form = el("form", "assign-form");
    form.method = "post";
    form.action = "/conversations/" + entry.id + "/assign";
    form.appendChild(hiddenInput("csrf_token", csrfToken()));
    var select = el("select");
    select.name = "agent_id";
    select.required = true;
    select.setAttribute("aria-label", "Berikan kepada");
    var placeholder = el("option", null, "Berikan kepada…");
    placeholder.value = "";
    select.appendChild(placeholder);
    agents.forEach(function (agent) {
      var option = el("option", null, agent.label);
      option.value = String(agent.id);
      option.selected = agent.id === entry.agent_id;
      select.appendChild(option);
    });
    form.appendChild(select);
    var button = el("button", "button", entry.agent_id ? "Alihkan" : "Tugaskan");
    button.type = "submit";
    form.appendChild(button);
    return form;
  }

  function queueItem(entry, options, agents) {
    var li = el("li", "queue-item");
    li.dataset.id = String(entry.id);
    var main = el("div", "queue-main");
    var link = el("a", "queue-name", entry.name);
    link.href = entry.url;
    main.appendChild(link);
    main.appendChild(el("span", "badge channel-badge", entry.channel_label));
    var waiting = entry.status === "waiting";
    var wait = el("span", waiting ? "badge badge-warn" : "badge", waiting ? entry.wait_label : entry.held_label);
    wait.dataset.field = "wait";
    main.appendChild(wait);
    if (options.showAgent && entry.agent_name) {
      main.appendChild(el("span", "queue-agent", "Petugas: " + entry.agent_name));
    }
    li.appendChild(main);
    if (entry.question) {
      li.appendChild(el("p", "queue-question", entry.question));
    }
    var actions = el("div", "queue-actions");
    var open = el("a", "button", "Buka");
    open.href = entry.url;
    actions.appendChild(open);
    if (options.showTake) {
      actions.appendChild(takeForm(entry));
    }
    if (options.showAssign) {
      actions.appendChild(assignForm(entry, agents));
    }
    li.appendChild(actions);
    return li;
  }

  function signature(entries) {
    return entries.map(function (e) {
      return [e.id, e.status, e.agent_id].join(":");
    }).join("|");
  }

  function renderList(page, name, entries, options, agents) {
    var list = page.querySelector('[data-list="' + name + '"]');
    if (!list) {
      return;
    }
    var count = page.querySelector('[data-count="' + name + '"]');
    if (count) {
      count.textContent = String(entries.length);
    }
    var empty = page.querySelector('[data-empty="' + name + '"]');
    if (empty) {
      empty.hidden = entries.length > 0;
    }
    var current = Array.prototype.map.call(list.children, function (li) {
      return li.dataset.id;
    }).join("|");
    var wanted = entries.map(function (e) { return String(e.id); }).join("|");
    var busy = list.contains(document.activeElement) && document.activeElement.tagName === "SELECT";
    if (current === wanted && list.dataset.signature === signature(entries)) {
      entries.forEach(function (entry) {  // same conversations: refresh the times only
        var item = list.querySelector('[data-id="' + entry.id + '"] [data-field="wait"]');
        if (item) {
          item.textContent = entry.status === "waiting" ? entry.wait_label : entry.held_label;
        }
      });
      return;
    }
    if (busy) {
      return;  // the supervisor is choosing an agent: do not pull the list from under them
    }
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    entries.forEach(function (entry) {
      list.appendChild(queueItem(entry, options, agents));
    });
    list.dataset.signature = signature(entries);
  }

  function setupQueue(page) {
    var url = page.dataset.api;
    var status = page.querySelector("[data-live-status]");
    function refresh() {
      getJson(url).then(function (state) {
        var supervisor = state.user.is_supervisor;
        renderList(page, "waiting", state.waiting, { showTake: true, showAssign: supervisor }, state.agents);
        renderList(page, "mine", state.mine, {}, state.agents);
        renderList(page, "assigned", state.assigned, { showAssign: true, showAgent: true }, state.agents);
        var open = page.querySelector('[data-field="open-count"]');
        if (open) {
          open.textContent = String(state.user.open_count);
        }
        if (status) {
          status.textContent = "";
        }
      }).catch(function () {
        if (status) {
          status.textContent = "Gagal memperbarui antrean. Mencoba lagi…";
        }
      });
    }
    refresh();
    window.setInterval(refresh, QUEUE_INTERVAL_MS);
  }

  /* -- one conversation ------------------------------------------------------------------ */
  function whoLabel(item) {
    if (item.kind === "citizen") {
      return "Warga";
    }
    if (item.kind === "bot") {
      return "Asisten (bot)";
    }
    return item.author ? "Petugas: " + item.author : "Petugas";
  }

  function transcriptItem(item) {
    var li = el("li", "msg msg-" + item.kind + (item.status ? " is-" + item.status : ""));
    li.dataset.key = item.key;
    if (item.kind === "marker") {
      li.appendChild(el("span", "msg-marker", item.text));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("time", "msg-time", item.time));
      return li;
    }
    var head = el("div", "msg-head");
    head.appendChild(el("span", "msg-who", whoLabel(item)));
    head.appendChild(el("time", "msg-time", item.time));
    li.appendChild(head);
    if (item.text) {
      li.appendChild(el("div", "msg-text", item.text));
    }
    var media = item.attachment;
    if (media) {
      var box = el("div", "attachment");
      box.appendChild(el("strong", null, "Lampiran: " + media.label));
      if (media.filename) {
        box.appendChild(document.createTextNode(" "));
        box.appendChild(el("span", null, media.filename));
      }
      if (media.mime_type) {
        box.appendChild(document.createTextNode(" "));
        box.appendChild(el("span", "muted", "(" + media.mime_type + ")"));
      }
      if (media.caption) {
        box.appendChild(el("div", "attachment-caption", "Keterangan: " + media.caption));
      }
      if (item.kind === "citizen") {
        var id = el("div", "muted", "ID media: ");
        id.appendChild(el("code", null, media.media_id));
        box.appendChild(id);
      }
      var conversationId = (window.location.pathname.match(/^\/conversations\/(\d+)/) || [])[1];
      if ((item.kind === "citizen" || item.kind === "agent") && conversationId) {
        var link = el("a", null, "Lihat lampiran");
        link.href = "/conversations/" + conversationId + "/lampiran?media=" +
          encodeURIComponent(media.media_id);
        link.target = "_blank";
        link.rel = "noopener";
        var row = el("div");
        row.appendChild(link);
        box.appendChild(row);
      }
      li.appendChild(box);
    }
    if (item.buttons && item.buttons.length) {
      var buttons = el("ul", "msg-buttons");
      item.buttons.forEach(function (title) {
        buttons.appendChild(el("li", null, title));
      });
      li.appendChild(buttons);
    }
    if (item.status) {
      var state = el("div", "msg-status", item.status_label);
      state.dataset.field = "status";
      li.appendChild(state);
    }
    return li;
  }

  function findByKey(list, key) {
    var items = list.children;
    for (var i = 0; i < items.length; i += 1) {
      if (items[i].dataset.key === key) {
        return items[i];
      }
    }
    return null;
  }

  function setupConversation(page) {
    var list = document.getElementById("transcript");
    var banner = page.querySelector("[data-status-banner]");
    var cursor = parseInt(page.dataset.cursor || "0", 10) || 0;
    var status = page.dataset.status;
    var url = page.dataset.eventsUrl;
    var polling = false;
    var failures = 0;

    function nearBottom() {
      return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    }

    function scrollDown() {
      list.scrollTop = list.scrollHeight;
    }

    function apply(data) {
      var stick = nearBottom();
      data.items.forEach(function (item) {
        if (!findByKey(list, item.key)) {
          list.appendChild(transcriptItem(item));
        }
      });
      data.messages.forEach(function (item) {
        var existing = findByKey(list, item.key);
        if (!existing) {
          list.appendChild(transcriptItem(item));
          return;
        }
        existing.className = "msg msg-" + item.kind + (item.status ? " is-" + item.status : "");
        var state = existing.querySelector('[data-field="status"]');
        if (state) {
          state.textContent = item.status_label;
        }
      });
      cursor = Math.max(cursor, data.cursor);
      if (stick) {
        scrollDown();
      }
      if (data.handoff.status !== status) {
        var text = document.getElementById("reply-text");
        if (!text || !text.value.trim()) {
          window.location.reload();
          return;
        }
        banner.textContent = "Status percakapan berubah menjadi \u201c" + data.handoff.status_label +
          "\u201d. Muat ulang halaman untuk melihat perubahan.";
        banner.hidden = false;
      }
    }

    function poll() {
      if (polling) {
        return;
      }
      polling = true;
      getJson(url + (url.indexOf("?") < 0 ? "?" : "&") + "after=" + cursor).then(function (data) {
        failures = 0;
        apply(data);
      }).catch(function () {
        failures += 1;
        if (failures >= 3 && banner) {
          banner.textContent = "Koneksi ke server terputus. Pesan baru mungkin belum tampil.";
          banner.hidden = false;
        }
      }).then(function () {
        polling = false;
      });
    }

    scrollDown();
    window.setInterval(poll, EVENTS_INTERVAL_MS);
    page.addEventListener("desk:replied", poll);
  }

  /* -- the reply box ------------------------------------------------------------------- */
  function setupCanned() {
    var select = document.querySelector("select[data-canned-target]");
    if (!select) {
      return;
    }
    select.addEventListener("change", function () {
      var target = document.getElementById(select.dataset.cannedTarget);
      if (!target || !select.value) {
        return;
      }
      var current = target.value;
      target.value = current && current.trim() ? current.replace(/\s+$/, "") + "\n" + select.value : select.value;
      select.value = "";
      target.focus();
    });
  }

  function setupReplyForm(page) {
    var form = document.querySelector("form[data-reply-form]");
    if (!form || !window.fetch || !window.FormData) {
      return;
    }
    var error = form.querySelector("[data-reply-error]");
    var button = form.querySelector('button[type="submit"]');
    var text = form.querySelector("textarea[name=text]");
    var file = form.querySelector("input[type=file][name=file]");
    var allowed = file ? (file.getAttribute("accept") || "").split(",") : [];
    var maxBytes = file ? parseInt(file.dataset.maxBytes || "0", 10) : 0;
    function fileProblem() {
      var chosen = file && file.files && file.files[0];
      if (!chosen) {
        return "";
      }
      if (file.files.length > 1) {
        return "Mohon lampirkan satu berkas saja untuk setiap balasan.";
      }
      var dot = chosen.name.lastIndexOf(".");
      var extension = dot < 0 ? "" : chosen.name.slice(dot).toLowerCase();
      if (allowed.indexOf(extension) < 0) {
        return "Jenis berkas ini tidak dapat dikirim. Silakan lampirkan gambar (JPG, PNG, GIF, " +
          "WEBP), PDF, dokumen Word atau Excel, atau berkas teks (TXT, CSV); balasan belum dikirim.";
      }
      if (maxBytes && chosen.size > maxBytes) {
        return "Berkas terlalu besar (maksimal " + Math.floor(maxBytes / 1048576) +
          " MB). Silakan pilih berkas yang lebih kecil; balasan belum dikirim.";
      }
      return "";
    }
    if (file) {
      file.addEventListener("change", function () {
        var problem = fileProblem();
        error.textContent = problem;
        error.hidden = !problem;
      });
    }
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          button.click();
        }
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var hasFile = Boolean(file && file.files && file.files.length);
      var problem = fileProblem();
      if (!problem && !text.value.trim() && !hasFile) {
        problem = "Balasan tidak boleh kosong.";
      }
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
        return;
      }
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
        body: new FormData(form)
      }).then(function (response) {
        if (response.status === 413) {
          return { ok: false, message: "Berkas terlalu besar untuk dikirim. Silakan pilih " +
            "berkas yang lebih kecil; balasan belum dikirim." };
        }
        return response.json().catch(function () {
          return { ok: false, message: "Balasan gagal dikirim (HTTP " + response.status + ")." };
        });
      }).then(function (result) {
        if (result.ok) {
          text.value = "";
          if (file) {
            file.value = "";
          }
          error.hidden = true;
          page.dispatchEvent(new CustomEvent("desk:replied"));
        } else {
          error.textContent = result.message || "Balasan gagal dikirim. Silakan coba lagi.";
          error.hidden = false;
        }
      }).catch(function () {
        error.textContent = "Tidak dapat menghubungi server. Balasan belum terkirim; silakan coba lagi.";
        error.hidden = false;
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupConfirmations();
    placeFlashAtAnchor();
    var queue = document.getElementById("queue-page");
    if (queue) {
      setupQueue(queue);
    }
    var conversation = document.getElementById("conversation-page");
    if (conversation) {
      setupConversation(conversation);
      setupCanned();
      setupReplyForm(conversation);
    }
  });
})();
