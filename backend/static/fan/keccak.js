// Keccak-256 (the Ethereum variant, not SHA3-256 padding) for EIP-55 address checksums.
// Small and slow on purpose (BigInt lanes): it hashes 40-character addresses.
"use strict";

(function () {
  const MASK = (1n << 64n) - 1n;
  const ROUND_CONSTANTS = [
    0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n,
    0x000000000000808bn, 0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n,
    0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
    0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n,
    0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
    0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
  ];
  const ROTATIONS = [
    0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
  ];
  const rotl = (x, n) => (n === 0 ? x : ((x << BigInt(n)) | (x >> BigInt(64 - n))) & MASK);

  function permute(s) {
    for (let round = 0; round < 24; round++) {
      const c = [];
      for (let x = 0; x < 5; x++) c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
      for (let x = 0; x < 5; x++) {
        const d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
        for (let y = 0; y < 25; y += 5) s[y + x] ^= d;
      }
      const b = new Array(25);
      for (let x = 0; x < 5; x++) {
        for (let y = 0; y < 5; y++) {
          b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(s[x + 5 * y], ROTATIONS[x + 5 * y]);
        }
      }
      for (let x = 0; x < 5; x++) {
        for (let y = 0; y < 25; y += 5) {
          s[y + x] = b[y + x] ^ (~b[y + ((x + 1) % 5)] & MASK & b[y + ((x + 2) % 5)]);
        }
      }
      s[0] ^= ROUND_CONSTANTS[round];
    }
  }

  function keccak256Hex(text) {
    const bytes = Array.from(new TextEncoder().encode(text));
    const rate = 136;
    bytes.push(0x01);
    while (bytes.length % rate !== 0) bytes.push(0);
    bytes[bytes.length - 1] |= 0x80;
    const s = new Array(25).fill(0n);
    for (let off = 0; off < bytes.length; off += rate) {
      for (let i = 0; i < rate / 8; i++) {
        let lane = 0n;
        for (let k = 7; k >= 0; k--) lane = (lane << 8n) | BigInt(bytes[off + i * 8 + k]);
        s[i] ^= lane;
      }
      permute(s);
    }
    let hex = "";
    for (let i = 0; i < 4; i++) {
      for (let k = 0; k < 8; k++) hex += Number((s[i] >> BigInt(8 * k)) & 0xffn).toString(16).padStart(2, "0");
    }
    return hex;
  }

  const root = typeof window !== "undefined" ? window : globalThis;
  root.keccak256Hex = keccak256Hex;
  if (typeof module !== "undefined") module.exports = { keccak256Hex };
})();
