// A background job's page: while the job runs, ask for its progress every two seconds and move the
// bar; when it ends, reload the page so the server shows the outcome (refused rows and reasons).
(function () {
  var box = document.getElementById('job-progress');
  // The bar's width comes from data-percent: a style= attribute would be refused by the Content-Security-Policy.
  var start = box && box.querySelector('[data-percent]');
  if (start) { start.style.width = start.getAttribute('data-percent') + '%'; }
  if (!box || box.getAttribute('data-running') !== '1' || !window.fetch) { return; }
  var url = box.getAttribute('data-url');

  function show(name, value) {
    var el = box.querySelector('[data-job="' + name + '"]');
    if (el) { el.textContent = value; }
  }

  function poll() {
    fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return setTimeout(poll, 5000); }
        if (!data.running) { window.location.reload(); return; }
        ['status_label', 'processed', 'total', 'done', 'refused', 'percent'].forEach(function (name) {
          show(name, data[name]);
        });
        var bar = box.querySelector('[data-job="bar"]');
        bar.style.width = data.percent + '%';
        bar.setAttribute('aria-valuenow', data.processed);
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  setTimeout(poll, 2000);
})();
