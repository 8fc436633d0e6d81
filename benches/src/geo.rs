//! Countries, synthesized cities, streets, postal codes and phone numbers.

use std::collections::HashSet;

use crate::rng::{Rng, Zipf, stream};
use crate::words::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
    Nl,
}

pub struct Country {
    pub code: &'static str,
    pub weight: u32,
    pub lang: Lang,
    pub calling: &'static str,
    pub nanp: bool,
    pub tld: &'static str,
    pub currency: &'static str,
    pub regions: &'static [(&'static str, u32)],
    /// Largest cities, most common first: (name, region).
    pub big_cities: &'static [(&'static str, &'static str)],
    pub synthesized_cities: usize,
    /// Area codes (non-NANP) and the number of subscriber digits after them.
    pub area_codes: &'static [(&'static str, usize)],
    pub trunk: &'static str,
    pub suffixes: &'static [(&'static str, u32)],
    pub surnames: &'static [&'static str],
    pub industries: &'static [&'static str],
}

pub const US: usize = 0;

pub static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        weight: 710,
        lang: Lang::En,
        calling: "1",
        nanp: true,
        tld: "com",
        currency: "usd",
        regions: &[
            ("CA", 390),
            ("TX", 300),
            ("FL", 220),
            ("NY", 200),
            ("PA", 130),
            ("IL", 126),
            ("OH", 118),
            ("GA", 109),
            ("NC", 107),
            ("MI", 100),
            ("NJ", 93),
            ("VA", 87),
            ("WA", 78),
            ("AZ", 74),
            ("MA", 70),
            ("TN", 70),
            ("IN", 68),
            ("MO", 62),
            ("MD", 62),
            ("WI", 59),
            ("CO", 58),
            ("MN", 57),
            ("SC", 52),
            ("AL", 51),
            ("LA", 46),
            ("KY", 45),
            ("OR", 42),
            ("OK", 40),
            ("CT", 36),
            ("UT", 34),
            ("IA", 32),
            ("NV", 32),
            ("AR", 30),
            ("MS", 29),
            ("KS", 29),
            ("NM", 21),
            ("NE", 20),
            ("ID", 19),
            ("WV", 18),
            ("HI", 14),
            ("NH", 14),
            ("ME", 14),
            ("RI", 11),
            ("MT", 11),
            ("DE", 10),
            ("SD", 9),
            ("ND", 8),
            ("AK", 7),
            ("DC", 7),
            ("VT", 6),
            ("WY", 6),
        ],
        big_cities: &[
            ("New York", "NY"),
            ("Los Angeles", "CA"),
            ("Chicago", "IL"),
            ("Houston", "TX"),
            ("Phoenix", "AZ"),
            ("Philadelphia", "PA"),
            ("San Antonio", "TX"),
            ("San Diego", "CA"),
            ("Dallas", "TX"),
            ("Austin", "TX"),
            ("Jacksonville", "FL"),
            ("San Jose", "CA"),
            ("Fort Worth", "TX"),
            ("Columbus", "OH"),
            ("Charlotte", "NC"),
            ("Indianapolis", "IN"),
            ("San Francisco", "CA"),
            ("Seattle", "WA"),
            ("Denver", "CO"),
            ("Nashville", "TN"),
            ("Boston", "MA"),
            ("Portland", "OR"),
            ("Las Vegas", "NV"),
            ("Detroit", "MI"),
            ("Atlanta", "GA"),
            ("Miami", "FL"),
            ("Minneapolis", "MN"),
            ("St. Louis", "MO"),
            ("Pittsburgh", "PA"),
            ("Cleveland", "OH"),
            ("Springfield", "IL"),
            ("Scranton", "PA"),
        ],
        synthesized_cities: 3000,
        area_codes: &[],
        trunk: "",
        suffixes: &[
            ("", 28),
            ("Inc", 16),
            ("Inc.", 10),
            ("LLC", 20),
            ("Corp", 6),
            ("Corp.", 1),
            ("Corporation", 4),
            ("Co", 3),
            ("Company", 4),
            ("Ltd", 1),
        ],
        surnames: SURNAMES_EN,
        industries: INDUSTRIES_EN,
    },
    Country {
        code: "GB",
        weight: 70,
        lang: Lang::En,
        calling: "44",
        nanp: false,
        tld: "co.uk",
        currency: "gbp",
        regions: &[
            ("LND", 30),
            ("", 25),
            ("MAN", 6),
            ("BIR", 6),
            ("WYK", 5),
            ("KEN", 4),
            ("ESS", 4),
            ("HAM", 4),
            ("SRY", 3),
            ("GLG", 3),
            ("EDH", 3),
            ("LAN", 3),
            ("NFK", 2),
            ("DEV", 2),
            ("CRF", 2),
            ("MSY", 3),
            ("BST", 2),
            ("OXF", 2),
            ("CAM", 2),
        ],
        big_cities: &[
            ("London", "LND"),
            ("Birmingham", "BIR"),
            ("Manchester", "MAN"),
            ("Leeds", "WYK"),
            ("Glasgow", "GLG"),
            ("Liverpool", "MSY"),
            ("Bristol", "BST"),
            ("Edinburgh", "EDH"),
            ("Sheffield", ""),
            ("Cardiff", "CRF"),
            ("Leicester", ""),
            ("Nottingham", ""),
        ],
        synthesized_cities: 600,
        area_codes: &[
            ("20", 8),
            ("121", 7),
            ("161", 7),
            ("113", 7),
            ("141", 7),
            ("151", 7),
            ("117", 7),
            ("131", 7),
            ("114", 7),
            ("29", 8),
            ("116", 7),
            ("115", 7),
            ("1632", 6),
            ("1223", 6),
            ("1865", 6),
            ("1904", 6),
        ],
        trunk: "0",
        suffixes: &[
            ("", 15),
            ("Ltd", 45),
            ("Limited", 25),
            ("plc", 6),
            ("Co", 2),
            ("Company", 2),
        ],
        surnames: SURNAMES_EN,
        industries: INDUSTRIES_EN,
    },
    Country {
        code: "DE",
        weight: 60,
        lang: Lang::De,
        calling: "49",
        nanp: false,
        tld: "de",
        currency: "eur",
        regions: &[
            ("NW", 18),
            ("BY", 16),
            ("BW", 13),
            ("NI", 10),
            ("HE", 8),
            ("SN", 5),
            ("RP", 5),
            ("BE", 4),
            ("SH", 3),
            ("BB", 3),
            ("ST", 3),
            ("TH", 3),
            ("HH", 2),
            ("MV", 2),
            ("SL", 1),
            ("HB", 1),
        ],
        big_cities: &[
            ("Berlin", "BE"),
            ("Hamburg", "HH"),
            ("München", "BY"),
            ("Köln", "NW"),
            ("Frankfurt am Main", "HE"),
            ("Stuttgart", "BW"),
            ("Düsseldorf", "NW"),
            ("Leipzig", "SN"),
            ("Dortmund", "NW"),
            ("Essen", "NW"),
            ("Bremen", "HB"),
            ("Dresden", "SN"),
            ("Hannover", "NI"),
            ("Nürnberg", "BY"),
        ],
        synthesized_cities: 600,
        area_codes: &[
            ("30", 8),
            ("40", 8),
            ("89", 8),
            ("221", 7),
            ("69", 8),
            ("711", 7),
            ("211", 7),
            ("341", 7),
            ("231", 7),
            ("201", 7),
            ("421", 7),
            ("351", 7),
            ("511", 7),
            ("911", 7),
            ("6151", 6),
            ("7531", 6),
            ("5121", 6),
        ],
        trunk: "0",
        suffixes: &[
            ("", 14),
            ("GmbH", 72),
            ("AG", 10),
            ("Co", 1),
            ("Ltd", 1),
            ("Inc", 1),
        ],
        surnames: SURNAMES_DE,
        industries: INDUSTRIES_DE,
    },
    Country {
        code: "FR",
        weight: 40,
        lang: Lang::Fr,
        calling: "33",
        nanp: false,
        tld: "fr",
        currency: "eur",
        regions: &[
            ("IDF", 30),
            ("ARA", 12),
            ("NAQ", 9),
            ("OCC", 9),
            ("HDF", 9),
            ("GES", 8),
            ("PAC", 8),
            ("PDL", 6),
            ("BRE", 5),
            ("NOR", 5),
            ("BFC", 4),
            ("CVL", 4),
        ],
        big_cities: &[
            ("Paris", "IDF"),
            ("Marseille", "PAC"),
            ("Lyon", "ARA"),
            ("Toulouse", "OCC"),
            ("Nice", "PAC"),
            ("Nantes", "PDL"),
            ("Strasbourg", "GES"),
            ("Montpellier", "OCC"),
            ("Bordeaux", "NAQ"),
            ("Lille", "HDF"),
            ("Rennes", "BRE"),
        ],
        synthesized_cities: 500,
        area_codes: &[("1", 8), ("2", 8), ("3", 8), ("4", 8), ("5", 8), ("9", 8)],
        trunk: "0",
        suffixes: &[
            ("", 35),
            ("SA", 35),
            ("S.A.", 25),
            ("Co", 2),
            ("Ltd", 1),
            ("Inc", 2),
        ],
        surnames: SURNAMES_FR,
        industries: INDUSTRIES_FR,
    },
    Country {
        code: "CA",
        weight: 40,
        lang: Lang::En,
        calling: "1",
        nanp: true,
        tld: "ca",
        currency: "cad",
        regions: &[
            ("ON", 39),
            ("QC", 22),
            ("BC", 14),
            ("AB", 12),
            ("MB", 4),
            ("SK", 3),
            ("NS", 3),
            ("NB", 2),
            ("NL", 1),
            ("PE", 1),
        ],
        big_cities: &[
            ("Toronto", "ON"),
            ("Montréal", "QC"),
            ("Vancouver", "BC"),
            ("Calgary", "AB"),
            ("Edmonton", "AB"),
            ("Ottawa", "ON"),
            ("Winnipeg", "MB"),
            ("Québec", "QC"),
            ("Hamilton", "ON"),
            ("Kitchener", "ON"),
            ("Halifax", "NS"),
        ],
        synthesized_cities: 400,
        area_codes: &[],
        trunk: "",
        suffixes: &[
            ("", 25),
            ("Inc", 25),
            ("Inc.", 20),
            ("Ltd", 20),
            ("Limited", 5),
            ("Corp", 5),
        ],
        surnames: SURNAMES_EN,
        industries: INDUSTRIES_EN,
    },
    Country {
        code: "ES",
        weight: 30,
        lang: Lang::Es,
        calling: "34",
        nanp: false,
        tld: "es",
        currency: "eur",
        regions: &[
            ("MD", 20),
            ("CT", 20),
            ("AN", 16),
            ("VC", 11),
            ("GA", 6),
            ("CL", 5),
            ("PV", 5),
            ("IC", 5),
            ("CM", 4),
            ("MC", 3),
            ("AR", 3),
            ("IB", 3),
            ("EX", 2),
            ("AS", 2),
        ],
        big_cities: &[
            ("Madrid", "MD"),
            ("Barcelona", "CT"),
            ("Valencia", "VC"),
            ("Sevilla", "AN"),
            ("Zaragoza", "AR"),
            ("Málaga", "AN"),
            ("Murcia", "MC"),
            ("Palma", "IB"),
            ("Bilbao", "PV"),
            ("Alicante", "VC"),
        ],
        synthesized_cities: 400,
        area_codes: &[
            ("91", 7),
            ("93", 7),
            ("96", 7),
            ("95", 7),
            ("94", 7),
            ("98", 7),
            ("97", 7),
        ],
        trunk: "",
        suffixes: &[("", 25), ("SA", 30), ("S.A.", 40), ("Co", 2), ("Ltd", 1)],
        surnames: SURNAMES_ES,
        industries: INDUSTRIES_ES,
    },
    Country {
        code: "NL",
        weight: 25,
        lang: Lang::Nl,
        calling: "31",
        nanp: false,
        tld: "nl",
        currency: "eur",
        regions: &[
            ("NH", 17),
            ("ZH", 21),
            ("NB", 15),
            ("GE", 12),
            ("UT", 8),
            ("OV", 7),
            ("LI", 6),
            ("GR", 3),
            ("FR", 4),
            ("DR", 3),
            ("FL", 2),
            ("ZE", 2),
        ],
        big_cities: &[
            ("Amsterdam", "NH"),
            ("Rotterdam", "ZH"),
            ("Den Haag", "ZH"),
            ("Utrecht", "UT"),
            ("Eindhoven", "NB"),
            ("Groningen", "GR"),
            ("Tilburg", "NB"),
            ("Almere", "FL"),
            ("Breda", "NB"),
            ("Nijmegen", "GE"),
        ],
        synthesized_cities: 300,
        area_codes: &[
            ("20", 7),
            ("10", 7),
            ("70", 7),
            ("30", 7),
            ("40", 7),
            ("50", 7),
            ("13", 7),
        ],
        trunk: "0",
        suffixes: &[("", 25), ("BV", 72), ("Ltd", 1), ("Co", 2)],
        surnames: SURNAMES_NL,
        industries: INDUSTRIES_NL,
    },
    Country {
        code: "AU",
        weight: 25,
        lang: Lang::En,
        calling: "61",
        nanp: false,
        tld: "com.au",
        currency: "aud",
        regions: &[
            ("NSW", 32),
            ("VIC", 26),
            ("QLD", 20),
            ("WA", 11),
            ("SA", 7),
            ("TAS", 2),
            ("ACT", 2),
            ("NT", 1),
        ],
        big_cities: &[
            ("Sydney", "NSW"),
            ("Melbourne", "VIC"),
            ("Brisbane", "QLD"),
            ("Perth", "WA"),
            ("Adelaide", "SA"),
            ("Gold Coast", "QLD"),
            ("Canberra", "ACT"),
            ("Newcastle", "NSW"),
            ("Hobart", "TAS"),
            ("Darwin", "NT"),
        ],
        synthesized_cities: 300,
        area_codes: &[("2", 8), ("3", 8), ("7", 8), ("8", 8)],
        trunk: "0",
        suffixes: &[
            ("", 25),
            ("Ltd", 50),
            ("Limited", 15),
            ("Co", 5),
            ("Company", 5),
        ],
        surnames: SURNAMES_EN,
        industries: INDUSTRIES_EN,
    },
];

pub fn country_weights() -> Vec<u32> {
    COUNTRIES.iter().map(|c| c.weight).collect()
}

pub struct City {
    pub name: String,
    pub region: &'static str,
    /// Country-specific postal code seed.
    pub postal: u32,
    /// Telephone area code.
    pub area: String,
    pub sub_len: usize,
}

pub struct CountryGeo {
    pub cities: Vec<City>,
    pub zipf: Zipf,
}

/// Cities of every country, built deterministically from the seed.
pub struct Geo {
    pub countries: Vec<CountryGeo>,
}

const EN_CITY_PRE: &[&str] = &[
    "Spring", "Oak", "Maple", "Cedar", "Pine", "Elm", "Ash", "Birch", "Willow", "River", "Lake",
    "Fair", "Green", "Red", "White", "Black", "Clear", "Glen", "Brook", "Stone", "Rock", "Hill",
    "North", "South", "East", "West", "Wood", "Marsh", "Mill", "Bridge", "Kings", "Queens",
    "Salem", "Frank", "Clay", "Lin", "Ox", "Wind", "Sun", "Silver", "Gold", "Iron", "Copper",
    "Bay", "Harbor", "Sand", "Shel", "Bel", "Mid", "Ply", "Dan", "Brad", "Chester", "Dor", "Ed",
    "Fal", "Gar", "Hart", "Lan", "Mar", "Nor", "Pem", "Rich", "Sher", "Tal", "Wal", "Wester",
    "Ham", "Bur", "Crest", "Deer", "Fox", "Hawk", "Raven", "Eagle", "Star",
];
const EN_CITY_SUF: &[&str] = &[
    "field", "ville", "ton", "wood", "dale", "ford", "burg", "port", "view", "side", "land",
    "mont", "ridge", "crest", "haven", "brook", "bury", "ham", "by", "stead", "well", "worth",
    "chester", "grove", "mouth", "wick", "more", "ley", "borough", "shire", "vale", "mere",
];
const EN_CITY_PREFIX_WORD: &[&str] = &[
    "New ", "Port ", "Mount ", "Fort ", "Lake ", "East ", "West ", "North ", "South ", "Glen ",
];
const EN_CITY_SUFFIX_WORD: &[&str] = &[
    " Springs",
    " Falls",
    " Heights",
    " Beach",
    " City",
    " Junction",
    " Park",
    " Hills",
    " Valley",
    " Center",
    " Crossing",
    " Harbor",
];
const DE_CITY_PRE: &[&str] = &[
    "Ober", "Unter", "Neu", "Alt", "Groß", "Klein", "Hohen", "Nieder", "Stein", "Berg", "Wald",
    "Frei", "Rosen", "Linden", "Eichen", "Buchen", "Sonnen", "Wein", "Hirsch", "Fal", "Ham",
    "Bram", "Wolf", "Karls", "Ludwigs", "Fried", "Mark", "Münch", "Schön", "Weiß", "Rot", "Grün",
    "Els", "Ditz", "Hild", "Wolfs", "Krons", "Ans", "Regens", "Offen",
];
const DE_CITY_SUF: &[&str] = &[
    "heim", "hausen", "dorf", "burg", "stadt", "feld", "bach", "berg", "au", "ingen", "rode",
    "born", "furt", "hagen", "see", "brück", "stein", "walde", "beck", "leben",
];
const FR_CITY_PRE: &[&str] = &[
    "Mont",
    "Beau",
    "Ville",
    "Bel",
    "Font",
    "Château",
    "Roche",
    "Pont",
    "Bois",
    "Champ",
    "Clair",
    "Val",
    "Mar",
    "Saint-Jean-de-",
    "Neuf",
    "Grand",
    "Bon",
    "Haute",
    "Long",
    "Mor",
    "Arg",
    "Bri",
    "Chal",
    "Dom",
    "Gui",
    "Lav",
    "Mon",
    "Noy",
    "Riv",
    "Ser",
];
const FR_CITY_SUF: &[&str] = &[
    "ville",
    "court",
    "mont",
    "fort",
    "lieu",
    "y",
    "ac",
    "ières",
    "bourg",
    "val",
    "champ",
    "fontaine",
    "roche",
    "pierre",
    "lac",
    "noy",
    "ville-la-Grande",
    "vert",
];
const SAINTS_FR: &[&str] = &[
    "Denis", "Étienne", "Martin", "Nazaire", "Malo", "Quentin", "Brieuc", "Germain", "Maur",
    "Priest", "Herblain", "Chamond", "Dizier", "Omer", "Louis", "Laurent", "Paul", "Pierre",
];
const ES_CITY_PRE: &[&str] = &[
    "Villa", "Valde", "Torre", "Monte", "Castel", "Fuente", "Puerto", "Alca", "Medina", "Peña",
    "Campo", "Val", "Aldea", "Casa", "Mira", "Alba", "Sala", "Vega", "Bena", "Alme",
];
const ES_CITY_SUF: &[&str] = &[
    "nueva", "real", "verde", "blanca", "lar", "moro", "rrubia", "franca", "alta", "rroya",
    "mayor", "seca", "llana", "lobos", "ríos", "sol", "mar", "dolid",
];
const SAINTS_ES: &[&str] = &[
    "Juan",
    "Pedro",
    "Sebastián",
    "Fernando",
    "Vicente",
    "Martín",
    "Lorenzo",
    "Andrés",
    "Roque",
    "Javier",
    "Cristóbal",
    "Bartolomé",
];
const NL_CITY_PRE: &[&str] = &[
    "Zand", "Noord", "Zuid", "Oost", "West", "Hoog", "Groot", "Berg", "Veen", "Dijk", "Water",
    "Hout", "Ooster", "Wester", "Kamp", "Heer", "Ape", "Bus", "Har", "Lei", "Alk", "Wijk", "Zwol",
    "Ede", "Vlaar",
];
const NL_CITY_SUF: &[&str] = &[
    "dam", "dijk", "veen", "voort", "hoven", "drecht", "meer", "wijk", "horst", "hout", "broek",
    "huizen", "zaal", "loo", "kerk", "berg", "lo", "sum", "ingen", "wolde",
];

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn synth_city(lang: Lang, rng: &mut Rng) -> String {
    match lang {
        Lang::En => {
            let base = if rng.chance(0.1) {
                format!(
                    "{}{}",
                    rng.pick(SURNAMES_EN),
                    rng.pick(&["ville", "ton", "burg", "field", "town"])
                )
            } else {
                format!("{}{}", rng.pick(EN_CITY_PRE), rng.pick(EN_CITY_SUF))
            };
            let u = rng.f64();
            if u < 0.12 {
                format!("{}{}", rng.pick(EN_CITY_PREFIX_WORD), base)
            } else if u < 0.27 {
                format!("{}{}", base, rng.pick(EN_CITY_SUFFIX_WORD))
            } else {
                base
            }
        }
        Lang::De => {
            let base = format!("{}{}", rng.pick(DE_CITY_PRE), rng.pick(DE_CITY_SUF));
            let u = rng.f64();
            if u < 0.06 {
                format!("Bad {base}")
            } else if u < 0.1 {
                format!(
                    "{base} {}",
                    rng.pick(&["am Main", "an der Donau", "am Rhein", "im Allgäu"])
                )
            } else {
                base
            }
        }
        Lang::Fr => {
            let u = rng.f64();
            if u < 0.2 {
                format!("Saint-{}", rng.pick(SAINTS_FR))
            } else {
                let pre = rng.pick(FR_CITY_PRE);
                let suf = rng.pick(FR_CITY_SUF);
                let base = if pre.ends_with('-') {
                    format!("{pre}{}", cap(suf))
                } else {
                    format!("{pre}{suf}")
                };
                if u > 0.92 {
                    format!(
                        "{base}{}",
                        rng.pick(&["-sur-Mer", "-sur-Loire", "-les-Bains", "-le-Pont"])
                    )
                } else {
                    base
                }
            }
        }
        Lang::Es => {
            let u = rng.f64();
            if u < 0.18 {
                format!("San {}", rng.pick(SAINTS_ES))
            } else {
                let base = format!("{}{}", rng.pick(ES_CITY_PRE), rng.pick(ES_CITY_SUF));
                if u > 0.9 {
                    format!(
                        "{base} {}",
                        rng.pick(&["de la Sierra", "del Río", "de Arriba", "del Campo"])
                    )
                } else {
                    base
                }
            }
        }
        Lang::Nl => {
            let base = format!("{}{}", rng.pick(NL_CITY_PRE), rng.pick(NL_CITY_SUF));
            let u = rng.f64();
            if u < 0.06 {
                format!("Nieuw-{base}")
            } else if u < 0.1 {
                format!("{base} aan Zee")
            } else {
                base
            }
        }
    }
}

fn city_postal(c: &Country, rng: &mut Rng) -> u32 {
    match c.code {
        "US" => rng.range(1_001, 99_899) as u32,
        "CA" => rng.below(18 * 10 * 20) as u32,
        "GB" => rng.below(30 * 20) as u32,
        "DE" => rng.range(1_067, 99_989) as u32,
        "FR" => (rng.range(1, 95) * 1000 + rng.range(0, 9) * 100) as u32,
        "ES" => (rng.range(1, 52) * 1000 + rng.range(0, 9) * 100) as u32,
        "NL" => rng.range(1_000, 9_989) as u32,
        "AU" => rng.range(800, 7_990) as u32,
        _ => rng.range(10_000, 99_999) as u32,
    }
}

fn nanp_area(rng: &mut Rng) -> String {
    loop {
        let a = rng.range(2, 9);
        let b = rng.range(0, 8);
        let c = rng.range(0, 9);
        if b == 1 && c == 1 {
            continue; // N11 codes are service codes
        }
        return format!("{a}{b}{c}");
    }
}

impl Geo {
    pub fn new(seed: u64) -> Geo {
        let mut countries = Vec::with_capacity(COUNTRIES.len());
        for (ci, c) in COUNTRIES.iter().enumerate() {
            let mut rng = Rng::stream(seed, stream::GEO, ci as u64);
            let mut seen = HashSet::new();
            let mut cities = Vec::new();
            let region_weights: Vec<u32> = c.regions.iter().map(|r| r.1).collect();
            let mut add = |name: String, region: &'static str, rng: &mut Rng| {
                let (area, sub_len) = if c.nanp {
                    (nanp_area(rng), 7)
                } else {
                    let (a, l) = c.area_codes[rng.below_usize(c.area_codes.len())];
                    (a.to_string(), l)
                };
                cities.push(City {
                    name,
                    region,
                    postal: city_postal(c, rng),
                    area,
                    sub_len,
                });
            };
            for &(name, region) in c.big_cities {
                seen.insert(name.to_string());
                add(name.to_string(), region, &mut rng);
            }
            let mut attempts = 0;
            while seen.len() < c.big_cities.len() + c.synthesized_cities && attempts < 100_000 {
                attempts += 1;
                let name = synth_city(c.lang, &mut rng);
                if seen.insert(name.clone()) {
                    let region = c.regions[rng.weighted(&region_weights)].0;
                    add(name, region, &mut rng);
                }
            }
            let zipf = Zipf::new(cities.len(), 2.5);
            countries.push(CountryGeo { cities, zipf });
        }
        Geo { countries }
    }
}

const CA_LETTERS: &[u8] = b"ABCEGHJKLMNPRSTVXY";
const GB_AREAS: &[&str] = &[
    "LS", "M", "B", "L", "G", "EH", "CF", "BS", "S", "NG", "LE", "SW", "SE", "N", "E", "W", "NW",
    "EC", "WC", "OX", "CB", "RG", "GU", "BN", "PO", "SO", "BH", "EX", "PL", "TR",
];
const GB_INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// A postal code for an address in `city`.
pub fn postal_code(c: &Country, city: &City, rng: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let p = city.postal;
    match c.code {
        "US" => {
            let _ = write!(out, "{:05}", (p + rng.below(8) as u32) % 100_000);
        }
        "CA" => {
            let a = CA_LETTERS[(p / 200) as usize % CA_LETTERS.len()] as char;
            let d = (p / 20) % 10;
            let b = CA_LETTERS[(p % 20) as usize % CA_LETTERS.len()] as char;
            let _ = write!(
                out,
                "{a}{d}{b} {}{}{}",
                rng.below(10),
                CA_LETTERS[rng.below_usize(CA_LETTERS.len())] as char,
                rng.below(10)
            );
        }
        "GB" => {
            let area = GB_AREAS[(p / 20) as usize % GB_AREAS.len()];
            let district = p % 20 + 1;
            let _ = write!(
                out,
                "{area}{district} {}{}{}",
                rng.below(10),
                GB_INWARD[rng.below_usize(GB_INWARD.len())] as char,
                GB_INWARD[rng.below_usize(GB_INWARD.len())] as char
            );
        }
        "DE" => {
            let _ = write!(out, "{:05}", p + rng.below(10) as u32);
        }
        "FR" | "ES" => {
            let _ = write!(out, "{:05}", p + rng.below(10) as u32 * 10);
        }
        "NL" => {
            const L: &[u8] = b"ABCEGHJKLMNPRTVWXZ";
            let _ = write!(
                out,
                "{:04} {}{}",
                p + rng.below(10) as u32,
                L[rng.below_usize(L.len())] as char,
                L[rng.below_usize(L.len())] as char
            );
        }
        "AU" => {
            let _ = write!(out, "{:04}", p + rng.below(10) as u32);
        }
        _ => {
            let _ = write!(out, "{p}");
        }
    }
}

/// A canonical street address line. May contain a secondary unit, sometimes after a
/// comma or (rarely) a line break.
pub fn street(c: &Country, rng: &mut Rng, zipf_en: &Zipf, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    match c.lang {
        Lang::En => {
            let number = match rng.weighted(&[30, 40, 25, 5]) {
                0 => rng.range(1, 99),
                1 => rng.range(100, 999),
                2 => rng.range(1000, 9999),
                _ => rng.range(10000, 29999),
            };
            let _ = write!(out, "{number} ");
            let us_like = c.nanp;
            if us_like && rng.chance(0.08) {
                let (full, abbr) =
                    *rng.pick(&[("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]);
                out.push_str(if rng.chance(0.6) { full } else { abbr });
                out.push(' ');
            }
            if us_like && rng.chance(0.05) {
                let n = rng.range(1, 125);
                let suffix = match (n % 100, n % 10) {
                    (11..=13, _) => "th",
                    (_, 1) => "st",
                    (_, 2) => "nd",
                    (_, 3) => "rd",
                    _ => "th",
                };
                let _ = write!(out, "{n}{suffix}");
            } else {
                out.push_str(STREET_NAMES_EN[zipf_en.sample(rng)]);
            }
            out.push(' ');
            let weights: Vec<u32> = STREET_TYPES_EN.iter().map(|t| t.2).collect();
            let (full, abbr, _) = STREET_TYPES_EN[rng.weighted(&weights)];
            if full != abbr && rng.chance(0.2) {
                out.push_str(abbr);
                if rng.chance(0.25) {
                    out.push('.');
                }
            } else {
                out.push_str(full);
            }
            if rng.chance(if us_like { 0.08 } else { 0.03 }) {
                let sep = *rng.pick_weighted(&[(" ", 76u32), (", ", 18), ("\n", 6)]);
                out.push_str(sep);
                let n = rng.range(1, 1200);
                match rng.weighted(&[50, 20, 10, 10, 10]) {
                    0 => {
                        let _ = write!(out, "Suite {n}");
                    }
                    1 => {
                        let _ = write!(out, "Unit {}", n % 60 + 1);
                    }
                    2 => {
                        let _ = write!(out, "Floor {}", n % 40 + 1);
                    }
                    3 => {
                        let _ = write!(out, "#{n}");
                    }
                    _ => {
                        let _ = write!(out, "Ste {n}");
                    }
                }
            }
        }
        Lang::De => {
            let name = rng.pick(STREET_NAMES_DE);
            let number = rng.range(1, 180);
            if rng.chance(0.08) {
                let _ = write!(out, "Am {name}berg {number}");
            } else {
                let suffix = *rng.pick_weighted(STREET_SUFFIX_DE);
                let suffix = if suffix == "straße" && rng.chance(0.12) {
                    "strasse"
                } else {
                    suffix
                };
                let _ = write!(out, "{name}{suffix} {number}");
            }
            if rng.chance(0.05) {
                out.push(*rng.pick(&['a', 'b', 'c']));
            }
        }
        Lang::Fr => {
            let weights: Vec<u32> = STREET_TYPES_FR.iter().map(|t| t.2).collect();
            let (ty, _, _) = STREET_TYPES_FR[rng.weighted(&weights)];
            let number = rng.range(1, 240);
            let bis = if rng.chance(0.03) { " bis" } else { "" };
            let _ = write!(out, "{number}{bis} {ty} {}", rng.pick(STREET_NAMES_FR));
        }
        Lang::Es => {
            let weights: Vec<u32> = STREET_TYPES_ES.iter().map(|t| t.2).collect();
            let (ty, _, _) = STREET_TYPES_ES[rng.weighted(&weights)];
            let number = rng.range(1, 200);
            let sep = if rng.chance(0.3) { ", " } else { " " };
            let _ = write!(out, "{ty} {}{sep}{number}", rng.pick(STREET_NAMES_ES));
        }
        Lang::Nl => {
            let name = rng.pick(STREET_NAMES_NL);
            let suffix = rng.pick_weighted(STREET_SUFFIX_NL);
            let number = rng.range(1, 300);
            let _ = write!(out, "{name}{suffix} {number}");
            if rng.chance(0.06) {
                out.push(*rng.pick(&['A', 'B', 'a', 'b']));
            }
        }
    }
}

/// A telephone number: country calling code, area code and subscriber digits.
#[derive(Clone, Debug, Default)]
pub struct Phone {
    pub calling: &'static str,
    pub nanp: bool,
    pub trunk: &'static str,
    pub area: String,
    pub sub: String,
}

impl Phone {
    pub fn new(c: &Country, city: &City, rng: &mut Rng) -> Phone {
        let mut sub = String::with_capacity(8);
        let len = if c.nanp { 7 } else { city.sub_len };
        loop {
            sub.clear();
            sub.push((b'0' + rng.range(2, 9) as u8) as char);
            for _ in 1..len {
                sub.push((b'0' + rng.below(10) as u8) as char);
            }
            // NANP exchanges are never N11 (service codes).
            if !(c.nanp && &sub[1..3] == "11") {
                break;
            }
        }
        Phone {
            calling: c.calling,
            nanp: c.nanp,
            trunk: c.trunk,
            area: city.area.clone(),
            sub,
        }
    }

    /// `+12175550100`.
    pub fn e164(&self, out: &mut String) {
        out.clear();
        out.push('+');
        out.push_str(self.calling);
        out.push_str(&self.area);
        out.push_str(&self.sub);
    }

    /// One of the formats people type into a CRM.
    pub fn format(&self, style: u32, out: &mut String) {
        out.clear();
        let (a, s) = (&self.area, &self.sub);
        if self.nanp {
            let (x, l) = s.split_at(3);
            match style % 6 {
                0 => *out = format!("+1 {a}-{x}-{l}"),
                1 => *out = format!("({a}) {x}-{l}"),
                2 => *out = format!("{a}.{x}.{l}"),
                3 => *out = format!("+1 {a} {x} {l}"),
                4 => *out = format!("{a}-{x}-{l}"),
                _ => *out = format!("1-{a}-{x}-{l}"),
            }
        } else {
            let grouped = if s.len() == 8 {
                if self.calling == "33" {
                    format!("{} {} {} {}", &s[0..2], &s[2..4], &s[4..6], &s[6..8])
                } else {
                    format!("{} {}", &s[0..4], &s[4..])
                }
            } else if s.len() == 7 {
                format!("{} {}", &s[0..3], &s[3..])
            } else {
                s.to_string()
            };
            match style % 4 {
                0 | 3 => *out = format!("+{} {a} {grouped}", self.calling),
                1 => *out = format!("{}{a} {grouped}", self.trunk),
                _ => {
                    if self.trunk.is_empty() {
                        *out = format!("00{} {a} {grouped}", self.calling)
                    } else {
                        *out = format!("+{} ({}){a} {grouped}", self.calling, self.trunk)
                    }
                }
            }
        }
    }
}
