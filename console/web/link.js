// Posts a signed link's answer and shows what the console said.
(function () {
  "use strict";
  var form = document.getElementById("link-form");
  if (!form) return;
  var answer = "approve";
  form.querySelectorAll("button[name=answer]").forEach(function (b) {
    b.addEventListener("click", function () { answer = b.value; });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    body.set("answer", answer);
    var out = document.getElementById("result");
    out.className = "result";
    out.textContent = "Sending…";
    fetch("/link", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        out.textContent = j.message;
        out.className = "result " + (j.ok ? "ok" : "error");
        if (j.ok) form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      })
      .catch(function (e) { out.textContent = String(e); out.className = "result error"; });
  });
})();
