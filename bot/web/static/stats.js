// Draws the statistics page's charts, and a quick poll's on its broadcast's page, with
// Chart.js (vendor/chart.umd.min.js) from the JSON block #stats-data; the page's CSP allows
// no inline script, so it lives here. A hidden number (where the small-cell rule hides one)
// arrives as null and is not drawn; the table under each chart says "<5".
(function () {
  "use strict";
  var block = document.getElementById("stats-data");
  if (!block || typeof Chart === "undefined") {
    return; // the tables still say everything
  }
  var data = JSON.parse(block.textContent);
  var RED = "#a3161a";
  var GREY = "#6b7280";

  function canvasFor(key) {
    return document.getElementById("chart-" + key);
  }

  function base(horizontal) {
    var axis = { beginAtZero: true, ticks: { precision: 0 } };
    return {
      locale: data.locale,
      responsive: true,
      maintainAspectRatio: false,
      animation: false, // cheap phones
      indexAxis: horizontal ? "y" : "x",
      plugins: { legend: { display: false } },
      scales: horizontal ? { x: axis } : { y: axis },
    };
  }

  // A label as lines of at most LINE characters, cut between words (a word longer than a
  // line keeps its own line), so that long names sit on rows of their own beside their bars.
  var LINE = 18;
  var LINE_PX = 15; // a 12px label line, with Chart.js's 1.2 line height
  function wrap(label) {
    var lines = [];
    String(label).split(/\s+/).forEach(function (word) {
      var last = lines.length - 1;
      if (last >= 0 && (lines[last] + " " + word).length <= LINE) {
        lines[last] += " " + word;
      } else {
        lines.push(word);
      }
    });
    return lines;
  }

  function bars(key, horizontal) {
    var chart = data.charts[key];
    var canvas = canvasFor(key);
    if (!chart || !canvas) {
      return;
    }
    var labels = chart.labels;
    var options = base(horizontal);
    if (horizontal) {
      // One row per bar, as tall as its label: the box grows with the list (a CSSOM
      // change, allowed by the CSP), and every label is drawn (none skipped for room).
      labels = chart.labels.map(wrap);
      var rows = labels.reduce(function (sum, lines) {
        return sum + lines.length * LINE_PX + 14;
      }, 0);
      canvas.parentNode.style.height = Math.max(160, 40 + rows) + "px";
      options.scales.y = { ticks: { autoSkip: false, font: { size: 12 } } };
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          {
            label: chart.series[0].label,
            data: chart.series[0].values,
            backgroundColor: RED,
            maxBarThickness: 48,
          },
        ],
      },
      options: options,
    });
  }

  function members() {
    var chart = data.charts.members;
    var canvas = canvasFor("members");
    if (!chart || !canvas) {
      return;
    }
    var styles = [
      { borderColor: RED, backgroundColor: RED, spanGaps: false },
      // Targets exist for a few years only: join them.
      { borderColor: GREY, backgroundColor: GREY, borderDash: [6, 4], spanGaps: true },
    ];
    var options = base(false);
    options.scales.y.beginAtZero = false;
    options.plugins.legend.display = true;
    new Chart(canvas, {
      type: "line",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (series, index) {
          var style = styles[index] || styles[1];
          return {
            label: series.label,
            data: series.values,
            borderColor: style.borderColor,
            backgroundColor: style.backgroundColor,
            borderDash: style.borderDash,
            spanGaps: style.spanGaps,
            pointRadius: 4,
          };
        }),
      },
      options: options,
    });
  }

  members();
  bars("funnel", false);
  bars("interest", false);
  // Categories, statuses and unions: names, so bars across with the names in rows.
  bars("category", true);
  bars("status", true);
  bars("union", true);
  bars("month", false);
  // A quick poll's answers on its broadcast's page (templates/poll_results.html).
  bars("poll", true);
})();
