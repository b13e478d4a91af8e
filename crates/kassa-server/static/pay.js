// Kassa's pay page, improved when JavaScript runs (the page works without it; the server
// checks everything again): the card number spaced as typed (4-4-4-4, American Express
// 4-6-5) with its brand named under it; the card number's check digit (Luhn) and the expiry
// (MM/YY, not past) checked before the form is sent, with the same error summary and field
// messages the server would show; focus on the summary whenever it shows. First-party, no
// library, no network. Runs before pow.js's submit handler and stops it for a form it refuses.
(function () {
  "use strict";

  var BRANDS = [
    [/^4/, "Visa"],
    [/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/, "Mastercard"],
    [/^3[47]/, "American Express"],
    [/^(6011|65|64[4-9]|622)/, "Discover"],
    [/^3(0[0-5]|[689])/, "Diners Club"],
    [/^35(2[89]|[3-8])/, "JCB"]
  ];

  function digits(s) { return s.replace(/\D/g, ""); }

  function brandOf(d) {
    for (var i = 0; i < BRANDS.length; i++) if (BRANDS[i][0].test(d)) return BRANDS[i][1];
    return "";
  }

  // Group sizes for a number of this brand.
  function groups(brand) { return brand === "American Express" ? [4, 6, 5] : [4, 4, 4, 4, 3]; }

  function spaced(d, brand) {
    var out = [], at = 0, g = groups(brand);
    for (var i = 0; i < g.length && at < d.length; i++) { out.push(d.slice(at, at + g[i])); at += g[i]; }
    if (at < d.length) out.push(d.slice(at));
    return out.join(" ");
  }

  function luhn(d) {
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var n = +d.charAt(d.length - 1 - i);
      if (i % 2) { n *= 2; if (n > 9) n -= 9; }
      sum += n;
    }
    return sum % 10 === 0;
  }

  // The server's words for the card number and expiry (kassa-core's card.rs), or "".
  function numberProblem(value) {
    var v = value.trim();
    if (!v) return "Enter the card number.";
    if (!/^\d+([ -]\d+)*$/.test(v)) return "Must contain only digits.";
    var d = digits(v);
    if (d.length >= 12 && d.length <= 19 && !luhn(d)) return "Card number is not valid.";
    return "";
  }

  function expiryProblem(value) {
    var v = value.trim();
    if (!v) return "Enter the card's expiry date as MM/YY.";
    var m = /^(\d{2}) *\/ *(\d{2}|\d{4})$/.exec(v) || /^(\d{2})(\d{2}|\d{4})$/.exec(v);
    if (!m) return "Must be MMYY, MMYYYY, MM/YY or MM/YYYY.";
    var month = +m[1], year = +m[2] + (m[2].length === 2 ? 2000 : 0), now = new Date();
    if (month < 1 || month > 12) return "Month must be between 01 and 12.";
    if (year * 12 + month < now.getFullYear() * 12 + now.getMonth() + 1) return "Card has expired.";
    return "";
  }

  function start() {
    var form = document.getElementById("pay-form");
    if (!form) return;
    var summary = document.getElementById("error-summary");
    var number = document.getElementById("cardNumber");
    var brand = document.getElementById("card-brand");

    if (summary && !summary.hidden) summary.focus();

    // A summary link moves focus to its field (the browser only scrolls to it).
    if (summary) summary.addEventListener("click", function (e) {
      var a = e.target.closest("a");
      var field = a && document.getElementById(a.getAttribute("href").slice(1));
      if (field) { e.preventDefault(); field.focus(); }
    });

    if (number) number.addEventListener("input", function () {
      var d = digits(number.value).slice(0, 19), b = brandOf(d);
      var caret = digits(number.value.slice(0, number.selectionStart || 0)).length;
      var text = spaced(d, b);
      if (text !== number.value) {
        number.value = text;
        // The caret stays after the same digit.
        var pos = 0, seen = 0;
        while (pos < text.length && seen < caret) { if (text.charAt(pos) !== " ") seen++; pos++; }
        number.setSelectionRange(pos, pos);
      }
      if (brand && brand.textContent !== b) brand.textContent = b;
    });

    function setError(field, message) {
      var id = field.id + "-error", p = document.getElementById(id);
      if (!message) {
        if (p) p.remove();
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
        return;
      }
      if (!p) {
        p = document.createElement("p");
        p.className = "field-error";
        p.id = id;
        field.insertAdjacentElement("afterend", p);
      }
      p.textContent = message;
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", id);
    }

    function show(problems) {
      var list = summary.querySelector("ul");
      list.textContent = "";
      problems.forEach(function (pr) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = "#" + pr[0].id;
        a.textContent = pr[1];
        li.appendChild(a);
        list.appendChild(li);
      });
      summary.hidden = false;
      summary.focus();
    }

    // Capturing on the document runs before pow.js's handler on the form, so a refused form
    // is never sent, solved or not.
    document.addEventListener("submit", function (e) {
      if (e.target !== form || !summary) return;
      var card = form.elements.namedItem("method");
      if (!card || card.value !== "card") return;
      var expiry = document.getElementById("expiry");
      var problems = [];
      [[number, numberProblem], [expiry, expiryProblem]].forEach(function (check) {
        if (!check[0]) return;
        var message = check[1](check[0].value);
        setError(check[0], message);
        if (message) problems.push([check[0], message]);
      });
      if (problems.length) {
        e.preventDefault();
        e.stopPropagation();
        show(problems);
      }
    }, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
