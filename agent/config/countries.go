package config

// countries holds the ISO 3166-1 alpha-3 codes of current countries and
// territories (249 entries).
var countries = map[string]bool{
	"AFG": true, "ALA": true, "ALB": true, "DZA": true, "ASM": true, "AND": true, "AGO": true, "AIA": true, "ATA": true, "ATG": true, "ARG": true, "ARM": true, "ABW": true, "AUS": true, "AUT": true, "AZE": true,
	"BHS": true, "BHR": true, "BGD": true, "BRB": true, "BLR": true, "BEL": true, "BLZ": true, "BEN": true, "BMU": true, "BTN": true, "BOL": true, "BES": true, "BIH": true, "BWA": true, "BVT": true, "BRA": true,
	"IOT": true, "BRN": true, "BGR": true, "BFA": true, "BDI": true, "CPV": true, "KHM": true, "CMR": true, "CAN": true, "CYM": true, "CAF": true, "TCD": true, "CHL": true, "CHN": true, "CXR": true, "CCK": true,
	"COL": true, "COM": true, "COG": true, "COD": true, "COK": true, "CRI": true, "CIV": true, "HRV": true, "CUB": true, "CUW": true, "CYP": true, "CZE": true, "DNK": true, "DJI": true, "DMA": true, "DOM": true,
	"ECU": true, "EGY": true, "SLV": true, "GNQ": true, "ERI": true, "EST": true, "SWZ": true, "ETH": true, "FLK": true, "FRO": true, "FJI": true, "FIN": true, "FRA": true, "GUF": true, "PYF": true, "ATF": true,
	"GAB": true, "GMB": true, "GEO": true, "DEU": true, "GHA": true, "GIB": true, "GRC": true, "GRL": true, "GRD": true, "GLP": true, "GUM": true, "GTM": true, "GGY": true, "GIN": true, "GNB": true, "GUY": true,
	"HTI": true, "HMD": true, "VAT": true, "HND": true, "HKG": true, "HUN": true, "ISL": true, "IND": true, "IDN": true, "IRN": true, "IRQ": true, "IRL": true, "IMN": true, "ISR": true, "ITA": true, "JAM": true,
	"JPN": true, "JEY": true, "JOR": true, "KAZ": true, "KEN": true, "KIR": true, "PRK": true, "KOR": true, "KWT": true, "KGZ": true, "LAO": true, "LVA": true, "LBN": true, "LSO": true, "LBR": true, "LBY": true,
	"LIE": true, "LTU": true, "LUX": true, "MAC": true, "MDG": true, "MWI": true, "MYS": true, "MDV": true, "MLI": true, "MLT": true, "MHL": true, "MTQ": true, "MRT": true, "MUS": true, "MYT": true, "MEX": true,
	"FSM": true, "MDA": true, "MCO": true, "MNG": true, "MNE": true, "MSR": true, "MAR": true, "MOZ": true, "MMR": true, "NAM": true, "NRU": true, "NPL": true, "NLD": true, "NCL": true, "NZL": true, "NIC": true,
	"NER": true, "NGA": true, "NIU": true, "NFK": true, "MKD": true, "MNP": true, "NOR": true, "OMN": true, "PAK": true, "PLW": true, "PSE": true, "PAN": true, "PNG": true, "PRY": true, "PER": true, "PHL": true,
	"PCN": true, "POL": true, "PRT": true, "PRI": true, "QAT": true, "REU": true, "ROU": true, "RUS": true, "RWA": true, "BLM": true, "SHN": true, "KNA": true, "LCA": true, "MAF": true, "SPM": true, "VCT": true,
	"WSM": true, "SMR": true, "STP": true, "SAU": true, "SEN": true, "SRB": true, "SYC": true, "SLE": true, "SGP": true, "SXM": true, "SVK": true, "SVN": true, "SLB": true, "SOM": true, "ZAF": true, "SGS": true,
	"SSD": true, "ESP": true, "LKA": true, "SDN": true, "SUR": true, "SJM": true, "SWE": true, "CHE": true, "SYR": true, "TWN": true, "TJK": true, "TZA": true, "THA": true, "TLS": true, "TGO": true, "TKL": true,
	"TON": true, "TTO": true, "TUN": true, "TUR": true, "TKM": true, "TCA": true, "TUV": true, "UGA": true, "UKR": true, "ARE": true, "GBR": true, "USA": true, "UMI": true, "URY": true, "UZB": true, "VUT": true,
	"VEN": true, "VNM": true, "VGB": true, "VIR": true, "WLF": true, "ESH": true, "YEM": true, "ZMB": true, "ZWE": true,
}
