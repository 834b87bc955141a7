// The queue's keyboard: j/k move, x ticks, o opens, c claims, r replies, e resolves, ? helps.
// A static file, as the dashboard's CSP allows no inline script.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("table.queue tbody tr"));
  const help = document.getElementById("keys-help");
  const bulk = document.getElementById("bulk");
  let at = -1;

  function focus(index) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("focused", i === at));
    rows[at].scrollIntoView({ block: "nearest" });
  }

  function current() {
    return at >= 0 ? rows[at] : null;
  }

  function resolve(row) {
    // Resolve only this one: untick the others, tick it, send the bulk form's "close".
    bulk.querySelectorAll("input[name=case]").forEach((box) => box.remove());
    document.querySelectorAll("input[type=checkbox][form=bulk]").forEach((box) => {
      box.checked = box.value === row.dataset.code;
    });
    bulk.querySelector("button[value=close]").click();
  }

  function toggleHelp() {
    if (help) help.hidden = !help.hidden;
  }

  document.querySelectorAll("[data-help]").forEach((button) => {
    button.addEventListener("click", toggleHelp);
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, select, textarea")) return;
    const row = current();
    switch (event.key) {
      case "j": focus(at + 1); break;
      case "k": focus(at - 1); break;
      case "?": toggleHelp(); break;
      case "Escape": if (help) help.hidden = true; break;
      case "x":
        if (row) { const box = row.querySelector("input[type=checkbox]"); box.checked = !box.checked; }
        break;
      case "o": case "Enter":
        if (row) window.location.href = "/officer/case/" + row.dataset.code;
        break;
      case "r":
        if (row) window.location.href = "/officer/case/" + row.dataset.code + "#reply";
        break;
      case "c":
        if (row) { const claim = row.querySelector("form.claim button"); if (claim) claim.click(); }
        break;
      case "e":
        if (row && bulk) resolve(row);
        break;
      default: return;
    }
    event.preventDefault();
  });
})();
