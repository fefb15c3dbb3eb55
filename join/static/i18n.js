// The page's strings in the phone's own language (join/i18n.py: one JSON file per language in i18n/, English for
// any key a language lacks). The server picked the language from Accept-Language and sent its strings in the
// config; followBrowser() asks navigator.languages too and, where it prefers another of the files, loads it.
//
//   t("key", { name: value })    the string, its {name}s filled in
//   plural("key", count)         key_one / key_other, as Intl.PluralRules says for this language
//   percent(0.987)               "98.7%", "98,7 %": the language's way

let language = "en";
let strings = {};

export function setStrings(code, table) {
  language = code;
  strings = table;
}

export function currentLanguage() { return language; }

export function t(key, values = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export function plural(key, count, values = {}) {
  const form = `${key}_${new Intl.PluralRules(language).select(count)}`;
  const shown = new Intl.NumberFormat(language).format(count);
  return t(form in strings ? form : `${key}_other`, { ...values, count: shown });
}

export function percent(value) {
  return new Intl.NumberFormat(language, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 })
    .format(value);
}

export function list(items) {
  return new Intl.ListFormat(language, { style: "long", type: "conjunction" }).format(items);
}

// The first of the browser's languages that the page speaks (matched on the primary subtag: de-CH is de), or null.
export function preferred(available, wanted = navigator.languages?.length ? navigator.languages
                                                                          : [navigator.language]) {
  for (const tag of wanted) {
    const primary = String(tag || "").split("-")[0].toLowerCase();
    if (available.includes(primary)) return primary;
  }
  return null;
}

// The page in the browser's language where it prefers another than the server chose (a proxy that drops
// Accept-Language, a cached page): that language's file over English's, then every marked element again.
export async function followBrowser(config) {
  setStrings(config.language, config.strings);
  const wanted = preferred(config.languages);
  if (!wanted || wanted === config.language) return;
  try {
    const files = await Promise.all(["en", wanted].map(async (code) => {
      const reply = await fetch(`${config.assets}/i18n/${code}.json`);
      if (!reply.ok) throw new Error(String(reply.status));
      return reply.json();
    }));
    setStrings(wanted, { ...files[0], ...files[1] });
  } catch (error) {
    return;  // the server's choice stays: a page in one language rather than two
  }
  translatePage(config);
}

// Every element that names its string (data-i18n: text, data-i18n-label: aria-label, data-i18n-alt: alt).
export function translatePage(config) {
  document.documentElement.lang = language;
  document.title = t("title");
  for (const element of document.querySelectorAll("[data-i18n]")) {
    const key = element.dataset.i18n;
    if (key === "me") {  // "You are {nickname} in this room.": the nickname's element stays, with its text
      const nickname = document.getElementById("nickname");
      const [before, after = ""] = t(key).split("{nickname}");
      element.replaceChildren(before, nickname, after);
    } else {
      element.textContent = t(key);
    }
  }
  for (const element of document.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
  for (const element of document.querySelectorAll("[data-i18n-alt]")) element.alt = t(element.dataset.i18nAlt);
  const keep = config.keep;  // how long the server keeps drawings: [count, unit] (routes.kept_for), or null
  document.getElementById("privacy").textContent = t("privacy", {
    kept: keep ? t("privacy_deleted_after", { time: t(`time_${keep[1]}`, { count: keep[0] }) }) : t("privacy_kept"),
  });
}
