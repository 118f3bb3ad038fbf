// The letter's "Print" button (templates/notifications/letter.html); a file, not onclick=, because the
// Content-Security-Policy runs only the application's own script files.
(function () {
  var button = document.querySelector('[data-print]');
  if (button) { button.addEventListener('click', function () { window.print(); }); }
})();
