// Draws the statistics page's charts with Chart.js (vendor/chart.umd.min.js) from the JSON
// block #stats-data; the page's CSP allows no inline script, so it lives here. A hidden
// number arrives as null and is not drawn; the table under each chart says "<5".
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

  function bars(key, horizontal) {
    var chart = data.charts[key];
    var canvas = canvasFor(key);
    if (!chart || !canvas) {
      return;
    }
    if (horizontal) {
      // One bar per union: the box grows with the list (a CSSOM change, allowed by the CSP).
      canvas.parentNode.style.height = Math.max(10, 3 + chart.labels.length * 2) + "rem";
    }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: [
          {
            label: chart.series[0].label,
            data: chart.series[0].values,
            backgroundColor: RED,
            maxBarThickness: 48,
          },
        ],
      },
      options: base(horizontal),
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
  bars("interest", false);
  bars("category", false);
  bars("status", false);
  bars("union", true);
  bars("month", false);
})();
