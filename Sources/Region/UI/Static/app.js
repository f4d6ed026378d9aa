// RackPlane web UI: a little progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" checkboxes in table headers.
  for (const master of document.querySelectorAll("input[data-select-all]")) {
    const name = master.dataset.selectAll;
    master.addEventListener("change", () => {
      for (const box of master.form.querySelectorAll(`input[type=checkbox][name="${name}"]`)) box.checked = master.checked;
    });
  }
  // Buttons that change a machine's state ask first when they say so.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    if (!button.dataset.confirm) continue;
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});
