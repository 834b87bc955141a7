// A broadcast's page: its progress read again every 2 seconds from progress.json and shown
// without reloading; the pause, resume and cancel controls follow its status. The report's
// print button. A static file, as the dashboard's CSP allows no inline script; whatever
// the server sends is put on the page with textContent only.
(function () {
  "use strict";
  const EVERY_MS = 2000;

  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });

  const section = document.getElementById("progress");
  if (!section || section.hasAttribute("data-finished")) return;

  function showReasons(list, reasons) {
    list.replaceChildren();
    const rows = reasons.length ? reasons : [null];
    for (const reason of rows) {
      const item = document.createElement("li");
      item.textContent = reason ? `${reason.label}: ${reason.count}` : list.dataset.empty;
      list.append(item);
    }
  }

  function show(data) {
    document.querySelectorAll("[data-field]").forEach((node) => {
      const key = node.dataset.field;
      if (key === "reasons") {
        showReasons(node, data.reasons || []);
      } else if (key in data) {
        node.textContent = data[key] === null ? "—" : String(data[key]);
      }
    });
    const bar = section.querySelector("progress");
    if (bar) {
      bar.max = data.total || 1;
      bar.value = data.done;
    }
    document.querySelectorAll(".badge.status[data-field]").forEach((badge) => {
      badge.className = `badge status ${data.status}`;
    });
    section.dataset.status = data.status;
    document.querySelectorAll("[data-statuses]").forEach((control) => {
      control.hidden = !control.dataset.statuses.split(" ").includes(data.status);
    });
  }

  async function poll() {
    try {
      const response = await fetch(section.dataset.url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.includes("application/json")) {
        const data = await response.json();
        show(data);
        if (data.finished) return;
      } else if (response.status < 500) {
        return; // logged out, or no longer within reach: reloading the page tells why
      }
    } catch (error) {
      // The network dropped: try again at the next turn.
    }
    setTimeout(poll, EVERY_MS);
  }

  setTimeout(poll, EVERY_MS);
})();
