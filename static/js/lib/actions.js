/* Small page actions wired by data attributes, because the Content-Security-Policy allows no
   inline event handlers (onclick=, onsubmit=):
   - <button data-action="print">: prints the page;
   - <button data-action="reload">: loads the page again (the offline page's "Try again");
   - <form data-action="confirm" data-confirm="question?">: asks before submitting. */
document.addEventListener("click", function (event) {
  const target = event.target instanceof Element ? event.target.closest("[data-action='print']") : null;
  if (target) {
    event.preventDefault();
    window.print();
  }
  const reload = event.target instanceof Element ? event.target.closest("[data-action='reload']") : null;
  if (reload) {
    event.preventDefault();
    window.location.reload();
  }
});
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.action === "confirm" &&
      !window.confirm(form.dataset.confirm || "")) {
    event.preventDefault();
  }
});
