// The Spanish supply point code (CUPS), checked as the aggregator checks it: "ES", 16 digits,
// two check letters, and optionally a boundary point's digit and type letter.

const LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";
const POINT_TYPES = "FPRCXYZ";

/** The CUPS without spaces and dashes, in capitals. */
export function compactCups(text) {
  return text.replace(/[\s-]/g, "").toUpperCase();
}

/** The two check letters of 16 digits (the number mod 529, as two base-23 letters). */
export function checkLetters(digits) {
  const rest = Number(BigInt(digits) % 529n);
  return LETTERS[Math.floor(rest / 23)] + LETTERS[rest % 23];
}

/**
 * Return null for a valid CUPS, else what is wrong as
 * {problem, expected?}: empty, length, country, digits, check, point.
 */
export function cupsProblem(text) {
  const cups = compactCups(text);
  if (!cups) return { problem: "empty" };
  if (!cups.startsWith("ES")) return { problem: "country" };
  // Digits first (also while typing): a letter among them is wrong whatever follows.
  if (!/^\d*$/.test(cups.slice(2, 18))) return { problem: "digits" };
  if (cups.length !== 20 && cups.length !== 22) return { problem: "length" };
  const expected = checkLetters(cups.slice(2, 18));
  if (cups.slice(18, 20) !== expected) return { problem: "check", expected };
  if (cups.length === 22 && !(/\d/.test(cups[20]) && POINT_TYPES.includes(cups[21]))) {
    return { problem: "point" };
  }
  return null;
}
