/* Small page actions wired by data attributes, because the Content-Security-Policy allows no
   inline event handlers (onclick=, onsubmit=):
   - <button data-action="print">: prints the page;
   - <form data-action="confirm" data-confirm="question?">: asks before submitting. */
document.addEventListener("click", function (event) {
  const target = event.target instanceof Element ? event.target.closest("[data-action='print']") : null;
  if (target) {
    event.preventDefault();
    window.print();
  }
});
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.action === "confirm" &&
      !window.confirm(form.dataset.confirm || "")) {
    event.preventDefault();
  }
});
