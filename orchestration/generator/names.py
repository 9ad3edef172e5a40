"""Synthetic people and company names (vectorised). Includes non-ASCII names and names that need CSV quoting."""
from __future__ import annotations

import unicodedata

import numpy as np

FIRST = np.array("""James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan
Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Steven Ashley Paul Emily
Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca
Jason Laura Ryan Sharon Jacob Cynthia Gary Kathleen Nicholas Amy Eric Angela Jonathan Shirley Larry Anna Justin Brenda
Scott Pamela Brandon Emma Benjamin Nicole Samuel Helen Oliver Sophie Lukas Léa Hannah Noah Mia Elias Zoë José Chloé
François Søren Åsa Łukasz Jürgen Inès Björn Mónica Priya Arjun Wei Mei Hiroshi Yuki Aoife Siobhán Niamh""".split())
LAST = np.array("""Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker
Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter
Roberts Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Dubois Lefèvre Moreau Laurent Bernard García
Fernández Rossi Russo Bianchi Jansen deVries Kowalski Nowak Andersson Johansson Nielsen O'Brien O'Neill Murphy Kelly
Byrne Walsh Patel Shah Kumar Singh Chen Wang Tanaka Suzuki Sato Kim Park""".split())
CO_A = np.array("""Acme Globex Initech Umbrella Stark Wayne Wonka Hooli Vandelay Soylent Cyberdyne Tyrell Nakatomi Oscorp
Gringotts Aperture Black\u00a0Mesa Blue\u00a0Sun Northwind Contoso Fabrikam Litware Adatum Proseware Tailspin Woodgrove
Alpine Summit Harbor Beacon Cobalt Crimson Emerald Granite Ironwood Juniper Keystone Lumen Meridian Nimbus Orchid Pinnacle
Quantum Redwood Sapphire Tidal Vertex Willow Zenith Polaris Atlas Nova Apex Orbit Pioneer Sterling Vector Falcon Aurora
Bergström Nordlys Élan Zürich Café""".replace("\u00a0", "~").split())
CO_A = np.char.replace(CO_A, "~", " ")
CO_B = np.array("""Systems Labs Analytics Logistics Foods Health Energy Capital Robotics Media Software Networks Dynamics
Solutions Partners Holdings Industries Consulting Retail Biotech Ventures Works Studio Cloud Data Security Freight
Insurance Pharma Textiles""".split())
CO_SUFFIX = np.array(["Inc", "LLC", "Ltd", "GmbH", "SAS", "BV", "AB", "Pty Ltd", "plc", "Corp", "Co.", "AG", "S.L."])
INDUSTRIES = np.array(["software", "financial_services", "healthcare", "retail", "manufacturing", "education",
                       "media", "logistics", "energy", "professional_services"])
# names that must be quoted in CSV (comma, double quote)
ODD_COMPANIES = np.array(['Smith, Jones & Partners', 'The "Best" Coffee Co', 'Müller, Schmidt & Söhne GmbH',
                          'O\'Brien "Quality" Builders, Ltd'])


def slug(words: np.ndarray) -> np.ndarray:
    out = []
    for w in words:
        a = unicodedata.normalize("NFKD", str(w)).encode("ascii", "ignore").decode().lower()
        out.append("".join(ch for ch in a if ch.isalnum()) or "x")
    return np.array(out)


FIRST_S, LAST_S, COA_S, COB_S = slug(FIRST), slug(LAST), slug(CO_A), slug(CO_B)
DOMAINS = np.array(["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com"])


def cat(*parts) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out


def people(rng: np.random.Generator, n: int):
    f = rng.integers(0, len(FIRST), n)
    l = rng.integers(0, len(LAST), n)
    return FIRST[f], LAST[l], FIRST_S[f], LAST_S[l]


def companies(rng: np.random.Generator, n: int):
    """(name, domain) for n companies."""
    a = rng.integers(0, len(CO_A), n)
    b = rng.integers(0, len(CO_B), n)
    s = rng.integers(0, len(CO_SUFFIX), n)
    name = cat(CO_A[a], " ", CO_B[b], " ", CO_SUFFIX[s])
    odd = rng.random(n) < 0.01
    if odd.any():
        name[odd] = ODD_COMPANIES[rng.integers(0, len(ODD_COMPANIES), int(odd.sum()))]
    num = rng.integers(0, 100, n).astype(str)
    domain = cat(COA_S[a], COB_S[b], np.where(rng.random(n) < 0.3, num, ""), ".com")
    return name.astype(object), domain


def emails(rng: np.random.Generator, fs, ls, domain) -> np.ndarray:
    n = len(fs)
    style = rng.integers(0, 3, n)
    local = np.where(style == 0, cat(fs, ".", ls), np.where(style == 1, cat(fs.astype("U1"), ls), cat(fs, "_", ls)))
    return cat(local, "@", domain).astype(object)


def phones(rng: np.random.Generator, country_codes: np.ndarray) -> np.ndarray:
    n = len(country_codes)
    num = rng.integers(200_000_0000, 999_999_9999, n).astype(str)
    return cat("+", country_codes, " ", num).astype(object)
