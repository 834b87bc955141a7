// A broadcast's page, kept up to date without reloading: its progress read again every 2
// seconds from progress.json (the pause, resume and cancel controls follow its status), and
// a quick poll's results every 10 seconds from poll.json (counts already under the
// small-cell rule: "<5", hidden; the chart redrawn with them). The report's print button.
// A static file, as the dashboard's CSP allows no inline script; whatever the server sends
// is put on the page with textContent only.
(function () {
  "use strict";
  const PROGRESS_MS = 2000;
  const POLL_MS = 10000;

  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });

  // Read `url` every `everyMs` and hand the JSON to `show`, until it returns true, the
  // server refuses (logged out, or no longer within reach: reloading the page tells why).
  function keepReading(url, everyMs, show) {
    async function turn() {
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const type = response.headers.get("Content-Type") || "";
        if (response.ok && type.includes("application/json")) {
          if (show(await response.json())) return;
        } else if (response.status < 500) {
          return;
        }
      } catch (error) {
        // The network dropped: try again at the next turn.
      }
      setTimeout(turn, everyMs);
    }
    setTimeout(turn, everyMs);
  }

  const section = document.getElementById("progress");
  const results = document.getElementById("poll-results");

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

  function row(label, cells) {
    const line = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = label;
    line.append(head);
    for (const shown of cells) {
      const cell = document.createElement("td");
      cell.className = "n";
      cell.textContent = shown;
      line.append(cell);
    }
    return line;
  }

  function showPoll(data) {
    const answered = results.querySelector("[data-poll=answered]");
    answered.textContent = data.answered
      ? answered.dataset.some.replace("{n}", data.answered)
      : answered.dataset.few;
    results.querySelectorAll("[data-answer]").forEach((cell) => {
      const shown = data.answers[Number(cell.dataset.answer)];
      if (shown !== undefined) cell.textContent = shown;
    });
    for (const [key, rows] of Object.entries(data.tables)) {
      const table = results.querySelector(`table[data-table="${key}"]`);
      const empty = results.querySelector(`[data-empty="${key}"]`);
      if (!table || !empty) continue;
      table.tBodies[0].replaceChildren(...rows.map(([label, cells]) => row(label, cells)));
      table.parentNode.hidden = rows.length === 0;
      empty.hidden = rows.length !== 0;
    }
    const canvas = document.getElementById("chart-poll");
    const chart = canvas && typeof Chart !== "undefined" ? Chart.getChart(canvas) : null;
    if (chart) {
      chart.data.datasets[0].data = data.values;
      chart.update();
    }
  }

  if (section && !section.hasAttribute("data-finished")) {
    keepReading(section.dataset.url, PROGRESS_MS, (data) => {
      show(data);
      return data.finished;
    });
  }
  if (results) {
    keepReading(results.dataset.url, POLL_MS, (data) => {
      showPoll(data);
      return false; // answers keep coming after the sending ends
    });
  }
})();
