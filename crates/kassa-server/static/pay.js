// The pay page with JavaScript (it works without; the server checks everything again): card
// number spaced as typed (4-4-4-4, Amex 4-6-5) with its brand named; its check digit (Luhn) and
// the expiry checked before sending, shown in the same error summary as the server's, which
// takes focus. Runs before pow.js (a capturing listener) and stops it for a refused form.
(function () {
  "use strict";
  var BRANDS = [[/^4/, "Visa"], [/^(5[1-5]|2(22[1-9]|2[3-9]|[3-6]|7[01]|720))/, "Mastercard"],
    [/^3[47]/, "American Express"], [/^(6011|65|64[4-9]|622)/, "Discover"],
    [/^3(0[0-5]|[689])/, "Diners Club"], [/^35(2[89]|[3-8])/, "JCB"]];

  function brandOf(d) {
    for (var i = 0; i < BRANDS.length; i++) if (BRANDS[i][0].test(d)) return BRANDS[i][1];
    return "";
  }

  function spaced(d, brand) {
    var g = brand === "American Express" ? [4, 6, 5] : [4, 4, 4, 4, 3], out = [], at = 0;
    for (var i = 0; i < g.length && at < d.length; at += g[i++]) out.push(d.slice(at, at + g[i]));
    return out.join(" ");
  }

  function luhn(d) {
    for (var sum = 0, i = 0; i < d.length; i++) {
      var n = +d[d.length - 1 - i];
      sum += i % 2 ? (n > 4 ? 2 * n - 9 : 2 * n) : n;
    }
    return sum % 10 === 0;
  }

  // The server's words (kassa-core's card.rs and the pay form), or "".
  function numberProblem(v) {
    if (!v) return "Enter the card number.";
    if (!/^\d+([ -]\d+)*$/.test(v)) return "Must contain only digits.";
    var d = v.replace(/\D/g, "");
    return d.length > 11 && d.length < 20 && !luhn(d) ? "Card number is not valid." : "";
  }

  function expiryProblem(v) {
    if (!v) return "Enter the card's expiry date as MM/YY.";
    var m = /^(\d\d) *\/ *(\d\d|\d{4})$/.exec(v) || /^(\d\d)(\d\d|\d{4})$/.exec(v);
    if (!m) return "Must be MMYY, MMYYYY, MM/YY or MM/YYYY.";
    var month = +m[1], year = +m[2] + (m[2].length === 2 ? 2000 : 0), now = new Date();
    if (month < 1 || month > 12) return "Month must be between 01 and 12.";
    return year * 12 + month < now.getFullYear() * 12 + now.getMonth() + 1 ? "Card has expired." : "";
  }

  function $(id) { return document.getElementById(id); }

  function setError(field, message) {
    var id = field.id + "-error", p = $(id);
    if (p) p.remove();
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
    if (!message) return;
    p = document.createElement("p");
    p.className = "field-error";
    p.id = id;
    p.textContent = message;
    field.after(p);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", id);
  }

  function start() {
    var form = $("pay-form"), summary = $("error-summary"), number = $("cardNumber"), expiry = $("expiry");
    if (!form || !summary) return;
    if (!summary.hidden) summary.focus();

    // A summary link moves focus to its field (the browser would only scroll to it).
    summary.addEventListener("click", function (e) {
      var a = e.target.closest("a"), field = a && $(a.hash.slice(1));
      if (field) { e.preventDefault(); field.focus(); }
    });

    number.addEventListener("input", function () {
      var d = number.value.replace(/\D/g, "").slice(0, 19), b = brandOf(d), text = spaced(d, b);
      var caret = number.value.slice(0, number.selectionStart || 0).replace(/\D/g, "").length;
      if (text !== number.value) {
        number.value = text;
        // The caret stays after the same digit.
        for (var pos = 0, seen = 0; pos < text.length && seen < caret; pos++) if (text[pos] !== " ") seen++;
        number.setSelectionRange(pos, pos);
      }
      $("card-brand").textContent = b;
    });

    document.addEventListener("submit", function (e) {
      if (e.target !== form || form.elements.method.value !== "card") return;
      var problems = [];
      [[number, numberProblem], [expiry, expiryProblem]].forEach(function (c) {
        var message = c[1](c[0].value.trim());
        setError(c[0], message);
        if (message) problems.push([c[0].id, message]);
      });
      if (!problems.length) return;
      e.preventDefault();
      e.stopPropagation();
      var list = summary.querySelector("ul");
      list.textContent = "";
      problems.forEach(function (p) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = "#" + p[0];
        a.textContent = p[1];
        li.append(a);
        list.append(li);
      });
      summary.hidden = false;
      summary.focus();
    }, true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
