// What Flask-Admin did in inline onclick= handlers, which the Content-Security-Policy forbids
// (web/security.py): our copies of its templates carry data- attributes instead, handled here.
// Loaded on every panel page after Flask-Admin's helpers. One listener on the document, in the capture
// phase: it sees every click, even those Bootstrap's dropdowns stop from bubbling, and rows added later
// (inline forms) too.
(function () {
  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }

    // "With selected" → an action: modelActions (Flask-Admin's actions.js) is looked up at click time,
    // so js/mustafeed-actions.js's wrapper ("all matching rows") applies.
    var action = target.closest('[data-model-action]');
    if (action && typeof window.modelActions !== 'undefined') {
      event.preventDefault();
      window.modelActions.execute(action.getAttribute('data-model-action'));
      return;
    }

    // A delete button: ask first, as faHelpers.safeConfirm did.
    var confirmed = target.closest('[data-confirm-click]');
    if (confirmed) {
      if (!window.confirm(confirmed.getAttribute('data-confirm-click'))) { event.preventDefault(); }
      return;
    }

    // "Add <household member>" in an inline form.
    var inline = target.closest('[data-inline-add]');
    if (inline && typeof window.faForm !== 'undefined') {
      event.preventDefault();
      window.faForm.addInlineField(inline, inline.getAttribute('data-inline-add'));
      return;
    }

    // Flask-Admin's placeholder links (href="javascript:void(0)"): the policy would refuse to follow
    // them anyway (and report it); not following them is what they always meant.
    var placeholder = target.closest('a[href^="javascript:"]');
    if (placeholder) { event.preventDefault(); }
  }, true);
})();
