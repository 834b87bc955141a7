// A quick poll's results on its broadcast's page, kept up to date: poll.json is read every
// 10 seconds while the page is open, and the counts (already under the small-cell rule:
// "<5", hidden) are put in place with textContent only; the chart is redrawn with them.
(function () {
  "use strict";
  const EVERY_MS = 10000;
  const section = document.getElementById("poll-results");
  if (!section) return;

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

  function show(data) {
    const answered = section.querySelector("[data-poll=answered]");
    answered.textContent = data.answered
      ? answered.dataset.some.replace("{n}", data.answered)
      : answered.dataset.few;
    section.querySelectorAll("[data-answer]").forEach((cell) => {
      const shown = data.answers[Number(cell.dataset.answer)];
      if (shown !== undefined) cell.textContent = shown;
    });
    for (const [key, rows] of Object.entries(data.tables)) {
      const table = section.querySelector(`table[data-table="${key}"]`);
      const empty = section.querySelector(`[data-empty="${key}"]`);
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

  async function refresh() {
    try {
      const response = await fetch(section.dataset.url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const type = response.headers.get("Content-Type") || "";
      if (response.ok && type.includes("application/json")) {
        show(await response.json());
      } else if (response.status < 500) {
        return; // logged out, or the poll is out of reach now: stop asking
      }
    } catch (error) {
      // Offline for a moment: try again at the next turn.
    }
    window.setTimeout(refresh, EVERY_MS);
  }

  window.setTimeout(refresh, EVERY_MS);
})();
