// Draws the satisfaction dashboard's charts from the JSON embedded in the page (the same numbers
// are in the tables below them). Chart.js is vendored: no CDN, deployments may be offline.
(function () {
  "use strict";
  var source = document.getElementById("satisfaction-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var rtl = document.documentElement.dir === "rtl";
  var font = window.getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.font.family = font;

  function draw(canvas) {
    var rows = data.groups[canvas.getAttribute("data-chart")] || [];
    if (!rows.length) {
      canvas.style.display = "none";
      return;
    }
    var isMonth = canvas.getAttribute("data-chart") === "month";
    new window.Chart(canvas, {
      type: isMonth ? "line" : "bar",
      data: {
        labels: rows.map(function (r) { return r.label; }),
        datasets: [
          {label: data.labels.overall, data: rows.map(function (r) { return r.overall; }), yAxisID: "rating",
           backgroundColor: "rgba(0, 123, 255, 0.6)", borderColor: "rgb(0, 123, 255)"},
          {label: data.labels.response_rate, yAxisID: "rate", type: "line",
           data: rows.map(function (r) { return r.response_rate === null ? null : Math.round(r.response_rate * 100); }),
           backgroundColor: "rgba(40, 167, 69, 0.6)", borderColor: "rgb(40, 167, 69)"}
        ]
      },
      options: {
        animation: false,
        locale: document.documentElement.lang || "ar",
        plugins: {legend: {rtl: rtl}, tooltip: {rtl: rtl}},
        scales: {
          x: {reverse: rtl},
          rating: {type: "linear", min: 0, max: 5, position: rtl ? "right" : "left"},
          rate: {type: "linear", min: 0, max: 100, position: rtl ? "left" : "right", grid: {drawOnChartArea: false}}
        }
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
}());
