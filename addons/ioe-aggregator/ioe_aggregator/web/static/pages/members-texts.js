// The texts the members list, the add dialog and a member's page share.
export const MEMBER_TEXTS = {
  en: {
    id: "Id",
    name: "Name",
    cups: "Supply point (CUPS)",
    contracted_kw: "Contracted power (kW)",
    investment_share: "Share of the investment",
    plant_kw: "Community plant at this site (kW)",
    created: "Registered",
    status: "Status",
    active: "Active",
    revoked: "Revoked on {date}",
    "revoked-short": "Revoked",
  },
  es: {
    id: "Id",
    name: "Nombre",
    cups: "Punto de suministro (CUPS)",
    contracted_kw: "Potencia contratada (kW)",
    investment_share: "Parte de la inversión",
    plant_kw: "Planta comunitaria en este punto (kW)",
    created: "Alta",
    status: "Estado",
    active: "Activo",
    revoked: "Baja el {date}",
    "revoked-short": "Baja",
  },
};

/** Merge a page's own texts over the shared member texts. */
export function withMemberTexts(texts) {
  return Object.fromEntries(Object.keys(MEMBER_TEXTS).map((lang) => [lang, { ...MEMBER_TEXTS[lang], ...texts[lang] }]));
}
