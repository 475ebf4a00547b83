/* The drill form: an end time earlier than the start time is on the next day (23:30 to 00:30
   is one hour). Say so under the times as the user types, in the page's language: the
   template "翌日 {time}" / "{time} (next day)" comes from the server. */
const start = document.getElementById("start_time");
const end = document.getElementById("end_time");
const mark = document.getElementById("end-next-day");
if (start && end && mark) { initNextDay(start, end, mark); }

function initNextDay(start, end, mark) {
  const template = mark.getAttribute("data-template") || "{time}";

  function hhmm(value) {
    // <input type="time"> gives "HH:MM" or "HH:MM:SS"; anything else is not a time yet.
    const m = /^(\d\d):(\d\d)/.exec(value || "");
    return m ? m[1] + ":" + m[2] : "";
  }

  function update() {
    const s = hhmm(start.value), e = hhmm(end.value);
    mark.textContent = s && e && e < s ? template.replace("{time}", e) : "";
  }

  start.addEventListener("input", update);
  end.addEventListener("input", update);
  start.addEventListener("change", update);
  end.addEventListener("change", update);
  update();
}
