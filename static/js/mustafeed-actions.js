// "Act on all matching rows": the action goes to every row of the filter, not only the ticked ones.
// Flask-Admin's modelActions.execute insists on ticked rows; this wraps it.
(function () {
  var box = document.getElementById('all-matching');
  if (!box || typeof modelActions === 'undefined') { return; }
  var execute = modelActions.execute;
  modelActions.execute = function (name) {
    if (!box.checked) { return execute.call(this, name); }
    var label = $('.dropdown-item').filter(function () { return $(this).attr('data-model-action') === name; })
      .first().text().trim() || name;
    if (!confirm(box.getAttribute('data-confirm').replace('{action}', label))) { return false; }
    var form = $('#action_form');
    $('#action', form).val(name);
    $('input.action-checkbox', form).remove();
    $('input[name=all_matching]', form).remove();
    form.append($('<input type="hidden" name="all_matching" value="1">'));
    form.submit();
    return false;
  };
  box.addEventListener('change', function () {
    $('input.action-checkbox, .action-rowtoggle').prop('checked', box.checked).prop('disabled', box.checked);
  });
})();
