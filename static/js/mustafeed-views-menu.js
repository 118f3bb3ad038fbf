// The navbar's Views menu: each view's count is asked for when the menu is opened, so no page
// pays for counting every saved view (up to 300,000 rows each) just to show the menu (issue 9).
(function () {
  var menu = document.getElementById('views-menu');
  if (!menu) { return; }
  menu.querySelector('.dropdown-toggle').addEventListener('click', function () {
    fetch(menu.getAttribute('data-counts-url'), {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (response) { return response.ok ? response.json() : {counts: {}}; })
      .then(function (data) {
        menu.querySelectorAll('[data-view-count]').forEach(function (badge) {
          var count = data.counts[badge.getAttribute('data-view-count')];
          badge.textContent = count === undefined ? '' : String(count);
        });
      })
      .catch(function () { /* the menu still works without its counts */ });
  });
})();
