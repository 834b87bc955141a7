// The web chat (bot/channels/webchat.py). Every text from the bot or the visitor is put on
// the page with textContent only, so whatever anyone wrote is shown, never run.
"use strict";

(() => {
  const log = document.getElementById("log");
  const welcome = document.getElementById("welcome");
  const start = document.getElementById("start");
  const status = document.getElementById("status");
  const composer = document.getElementById("composer");
  const input = document.getElementById("text");
  const forget = document.getElementById("forget");

  const SEND_TRIES = 6;
  const MAX_PAUSE_MS = 30000;
  const TEXT = {
    offline: "Mất kết nối, đang thử lại…",
    expired: "Phiên trò chuyện đã hết hạn. Bạn hãy tải lại trang.",
    tooLong: "Tin nhắn quá dài. Bạn hãy chia thành vài tin ngắn hơn.",
    notSent: "Chưa gửi được tin nhắn. Bạn hãy thử lại sau ít phút.",
    refused: "Không gửi được tin nhắn này. Bạn hãy tải lại trang rồi thử lại.",
    busy: "Có quá nhiều người bắt đầu trò chuyện từ cùng một mạng. Bạn hãy thử lại sau một giờ.",
    forgetAsk:
      "Quên thiết bị này? Cuộc trò chuyện sẽ bị xoá khỏi trình duyệt này và không xem lại được ở đây. " +
      "Công đoàn vẫn giữ các yêu cầu bạn đã gửi; yêu cầu ẩn danh thì bạn tra cứu bằng mã hồ sơ và mã PIN: /tracuu MÃ-HỒ-SƠ PIN.",
    notForgotten: "Chưa quên được thiết bị này. Bạn hãy thử lại sau ít phút.",
  };

  let after = 0;
  const seen = new Set();
  // Messages go out one after another, so the bot reads them in the order they were written.
  let sending = Promise.resolve();

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A random UUID that also works over plain http (crypto.randomUUID needs https).
  function uuid() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function say(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function showMine(text) {
    welcome.hidden = true;
    const bubble = element("div", "msg mine", text);
    log.append(bubble);
    scrollDown();
    return bubble;
  }

  function showReply(message) {
    welcome.hidden = true;
    const bubble = element("div", "msg bot", String(message.text));
    for (const row of message.buttons || []) {
      const line = element("div", "buttons");
      for (const choice of row) {
        const button = element("button", "choice", String(choice.label));
        button.type = "button";
        button.addEventListener("click", () => press(choice));
        line.append(button);
      }
      bubble.append(line);
    }
    log.append(bubble);
    return bubble;
  }

  async function post(body) {
    for (let attempt = 0; attempt < SEND_TRIES; attempt += 1) {
      try {
        const response = await fetch("chat/send", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
          credentials: "same-origin",
        });
        if (response.ok) return null;
        if (response.status === 413) return TEXT.tooLong;
        if (response.status < 500) return TEXT.refused;
      } catch (error) {
        // Offline or the server restarting: the same id is sent again and stored once.
      }
      say(TEXT.offline);
      await sleep(Math.min(1000 * 2 ** attempt, MAX_PAUSE_MS));
    }
    return TEXT.notSent;
  }

  function send(fields, shown) {
    const bubble = showMine(shown);
    const body = Object.assign({ id: uuid() }, fields);
    sending = sending.then(async () => {
      const problem = await post(body);
      say(problem);
      if (problem) bubble.classList.add("failed");
    });
  }

  function press(choice) {
    send({ button: String(choice.payload) }, String(choice.label));
  }

  function submitText() {
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    fit();
    send({ text }, text);
  }

  function fit() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 144)}px`;
  }

  async function poll() {
    let failures = 0;
    for (;;) {
      try {
        const response = await fetch(`chat/messages?after=${after}`, {
          cache: "no-store",
          credentials: "same-origin",
        });
        if (response.status === 400) {
          say(TEXT.expired);
          return;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const messages = await response.json();
        const history = after === 0;
        const follow = atBottom();
        let first = null;
        for (const message of messages) {
          if (!seen.has(message.id)) {
            seen.add(message.id);
            const bubble = showReply(message);
            first = first || bubble;
          }
          after = Math.max(after, message.id);
        }
        // A long answer is read from its start; an earlier conversation from its end.
        if (first && history) scrollDown();
        else if (first && follow) first.scrollIntoView({ block: "start" });
        if (failures) say("");
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures > 1) say(TEXT.offline);
        await sleep(Math.min(1000 * 2 ** failures, MAX_PAUSE_MS));
      }
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitText();
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    // Vietnamese keyboards (Telex, VNI) compose letters: Enter then belongs to the composition.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitText();
    }
  });

  // "Quên thiết bị này": the server forgets this browser's conversation and clears its cookie;
  // the reload then starts afresh, as for someone new.
  async function forgetDevice() {
    if (!window.confirm(TEXT.forgetAsk)) return;
    forget.disabled = true;
    try {
      const response = await fetch("chat/forget", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
        credentials: "same-origin",
      });
      if (response.ok || response.status === 400) {
        window.location.reload();
        return;
      }
    } catch (error) {
      // Offline: said below; the button can be pressed again.
    }
    forget.disabled = false;
    say(TEXT.notForgotten);
  }

  input.addEventListener("input", fit);
  // An outreach link (a poster's QR code) opens /chat?start=<code>: the code goes with /start,
  // so the bot counts the arrival and knows the workplace (bot/services/outreach.py).
  const code = new URLSearchParams(window.location.search).get("start");
  const opening = code && /^[a-z2-9]{8}$/i.test(code) ? `/start ${code}` : "/start";
  start.addEventListener("click", () => send({ text: opening }, start.textContent));
  forget.addEventListener("click", forgetDevice);

  // Too many new visitors from this network this hour (the server answered 429): no chat.
  if (document.body.dataset.refused === "busy") {
    say(TEXT.busy);
    welcome.hidden = true;
    composer.hidden = true;
    forget.parentElement.hidden = true;
    return;
  }
  poll();
})();
