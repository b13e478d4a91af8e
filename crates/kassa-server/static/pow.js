// Kassa's pay page in challenge mode (docs/api.md §8): before the form is sent, find a counter
// such that SHA-256(challenge + ":" + counter) starts with as many zero bits as the challenge
// asks for (its second dot-separated field), and send it as `powSolution`. First-party and
// self-contained: no library, no network, no eval. Solving starts when the page loads, in short
// slices so the page stays responsive; a submit before it is done waits for it.
(function () {
  "use strict";

  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var INITIAL = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ];
  var W = new Int32Array(64);

  // One SHA-256 compression of the 64 bytes of `block` at `offset` into `h` (8 words).
  function compress(h, block, offset) {
    var i, t1, t2;
    for (i = 0; i < 16; i++) {
      var j = offset + i * 4;
      W[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
    }
    for (i = 16; i < 64; i++) {
      var x = W[i - 15], y = W[i - 2];
      var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }

  function zeroBits(h, bits) {
    for (var i = 0; bits > 0; i++, bits -= 32) {
      var word = h[i] >>> 0;
      if (bits >= 32 ? word !== 0 : word >>> (32 - bits) !== 0) return false;
    }
    return true;
  }

  // Holds the challenge's last partial block with the counter (in ASCII digits) and padding
  // after it; each try bumps the digits in place and hashes one or two blocks.
  function Solver(challenge) {
    var prefix = [];
    for (var i = 0; i < challenge.length; i++) prefix.push(challenge.charCodeAt(i) & 0xff);
    prefix.push(58); // ":"
    this.bits = parseInt(challenge.split(".")[1], 10) || 0;
    // The whole blocks of the prefix are hashed once.
    var whole = prefix.length - (prefix.length % 64);
    this.mid = new Int32Array(INITIAL);
    var bytes = new Uint8Array(prefix);
    for (var o = 0; o < whole; o += 64) compress(this.mid, bytes, o);
    this.rest = prefix.length - whole;
    this.length = prefix.length;
    this.buffer = new Uint8Array(128);
    this.buffer.set(bytes.subarray(whole));
    this.state = new Int32Array(8);
    this.counter = 0;
    this.layout();
  }

  // Writes the counter's digits and the padding after them.
  Solver.prototype.layout = function () {
    var buffer = this.buffer, digits = String(this.counter), i;
    for (i = 0; i < digits.length; i++) buffer[this.rest + i] = digits.charCodeAt(i);
    this.used = this.rest + digits.length;
    this.blocks = this.used + 9 <= 64 ? 1 : 2;
    var end = this.blocks * 64;
    buffer[this.used] = 0x80;
    for (i = this.used + 1; i < end - 4; i++) buffer[i] = 0;
    var bitLength = (this.length + digits.length) * 8;
    buffer[end - 4] = (bitLength >>> 24) & 0xff;
    buffer[end - 3] = (bitLength >>> 16) & 0xff;
    buffer[end - 2] = (bitLength >>> 8) & 0xff;
    buffer[end - 1] = bitLength & 0xff;
  };

  // Tries `count` more counters: the first that answers, or -1.
  Solver.prototype.run = function (count) {
    var buffer = this.buffer, state = this.state, start = this.rest;
    for (var n = 0; n < count; n++) {
      state.set(this.mid);
      compress(state, buffer, 0);
      if (this.blocks === 2) compress(state, buffer, 64);
      if (zeroBits(state, this.bits)) return this.counter;
      this.counter++;
      var i = this.used - 1;
      while (i >= start && buffer[i] === 57) buffer[i--] = 48;
      if (i < start) this.layout();
      else buffer[i]++;
    }
    return -1;
  };

  function start() {
    var forms = [];
    var all = document.querySelectorAll("form");
    for (var i = 0; i < all.length; i++) {
      if (all[i].elements.namedItem("powChallenge")) forms.push(all[i]);
    }
    if (forms.length === 0) return;
    var status = document.getElementById("pow-status");
    var solver = new Solver(forms[0].elements.namedItem("powChallenge").value);
    var solution = null;
    var waiting = null;

    function say(text) {
      if (!status) return;
      status.textContent = text;
      status.hidden = !text;
    }

    function send(form) {
      form.elements.namedItem("powSolution").value = solution;
      HTMLFormElement.prototype.submit.call(form);
    }

    function slice() {
      var found = solver.run(20000);
      if (found < 0) {
        setTimeout(slice, 0);
        return;
      }
      solution = String(found);
      for (var i = 0; i < forms.length; i++) {
        forms[i].elements.namedItem("powSolution").value = solution;
      }
      if (waiting) {
        say("Security check done. Sending your payment…");
        send(waiting);
      }
    }

    forms.forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (solution !== null) {
          form.elements.namedItem("powSolution").value = solution;
          return;
        }
        event.preventDefault();
        if (waiting) return;
        waiting = form;
        var buttons = form.querySelectorAll("button[type=submit]");
        for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
        say("Running a short security check in your browser… Your payment will be sent in a moment.");
      });
    });
    setTimeout(slice, 0);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
