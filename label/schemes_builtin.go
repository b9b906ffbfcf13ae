package label

// The built-in classification schemes, as data. Each lists its levels
// lowest first, with the aliases people write: abbreviations, spellings
// without accents and, where a scheme was reformed, the old names mapped to
// the level that replaced them. Equivalences between schemes are not here:
// they belong to agreements (tearline.Agreement.Equivalences).
//
// Sources: NATO C-M(2002)49 (security within NATO); Council Decision
// 2013/488/EU (EUCI); US Executive Order 13526 and the CAPCO register; the
// UK Government Security Classifications Policy; the Canadian Policy on
// Government Security (the classified track only: PROTECTED A/B/C protects
// a different interest and is not ordered against it, so it is left out);
// the Australian PSPF (2018 scheme); the New Zealand PSR; the French IGI 1300
// as reformed in 2021 (CONFIDENTIEL DÉFENSE and SECRET DÉFENSE became
// SECRET, TRÈS SECRET DÉFENSE became TRÈS SECRET); the German VSA; the
// Dutch VIR-BI; the Italian law 124/2007; the Spanish law 9/1968 with the
// NATO-aligned DIFUSIÓN LIMITADA; the Japanese Ministry of Defense levels.
// The JPN and ESP tables should be confirmed with those partners' security
// authorities before an agreement relies on them.
func builtinSchemes() []*Scheme {
	return []*Scheme{
		{Policy: "NATO", Name: "NATO security classification", Bare: true, Scale: []Level{
			{Name: "NATO UNCLASSIFIED", Aliases: []string{"NU"}, Unclassified: true},
			{Name: "NATO RESTRICTED", Aliases: []string{"NR"}},
			{Name: "NATO CONFIDENTIAL", Aliases: []string{"NC"}},
			{Name: "NATO SECRET", Aliases: []string{"NS"}},
			{Name: "COSMIC TOP SECRET", Aliases: []string{"CTS"}},
		}},
		{Policy: "EU", Name: "EU classified information (EUCI)", Bare: true, Scale: []Level{
			{Name: "RESTREINT UE/EU RESTRICTED", Aliases: []string{"RESTREINT UE", "EU RESTRICTED"}},
			{Name: "CONFIDENTIEL UE/EU CONFIDENTIAL", Aliases: []string{"CONFIDENTIEL UE", "EU CONFIDENTIAL"}},
			{Name: "SECRET UE/EU SECRET", Aliases: []string{"SECRET UE", "EU SECRET"}},
			{Name: "TRES SECRET UE/EU TOP SECRET", Aliases: []string{"TRÈS SECRET UE/EU TOP SECRET", "TRES SECRET UE", "TRÈS SECRET UE", "EU TOP SECRET"}},
		}},
		{Policy: "USA", Name: "United States classification (EO 13526, CAPCO)", Prefixes: []string{"US"}, Bare: true, Scale: []Level{
			{Name: "UNCLASSIFIED", Unclassified: true},
			{Name: "CONFIDENTIAL"},
			{Name: "SECRET"},
			{Name: "TOP SECRET"},
		}},
		{Policy: "GBR", Name: "UK Government Security Classifications", Prefixes: []string{"UK"}, Scale: []Level{
			{Name: "OFFICIAL"},
			{Name: "OFFICIAL-SENSITIVE", Aliases: []string{"OFFICIAL SENSITIVE"}},
			{Name: "SECRET"},
			{Name: "TOP SECRET"},
		}},
		{Policy: "CAN", Name: "Canadian security classification (classified information)", Prefixes: []string{"CA"}, Scale: []Level{
			{Name: "UNCLASSIFIED", Unclassified: true},
			{Name: "CONFIDENTIAL"},
			{Name: "SECRET"},
			{Name: "TOP SECRET"},
		}},
		{Policy: "AUS", Name: "Australian Protective Security Policy Framework", Prefixes: []string{"AU"}, Scale: []Level{
			{Name: "UNOFFICIAL", Unclassified: true},
			{Name: "OFFICIAL"},
			{Name: "OFFICIAL: SENSITIVE", Aliases: []string{"OFFICIAL:SENSITIVE", "OFFICIAL SENSITIVE", "OFFICIAL-SENSITIVE"}},
			{Name: "PROTECTED"},
			{Name: "SECRET"},
			{Name: "TOP SECRET"},
		}},
		{Policy: "NZL", Name: "New Zealand Protective Security Requirements", Prefixes: []string{"NZ"}, Scale: []Level{
			{Name: "UNCLASSIFIED", Unclassified: true},
			{Name: "IN-CONFIDENCE", Aliases: []string{"IN CONFIDENCE"}},
			{Name: "SENSITIVE"},
			{Name: "RESTRICTED"},
			{Name: "CONFIDENTIAL"},
			{Name: "SECRET"},
			{Name: "TOP SECRET"},
		}},
		{Policy: "FRA", Name: "French classification (IGI 1300, 2021)", Prefixes: []string{"FR"}, Scale: []Level{
			{Name: "DIFFUSION RESTREINTE", Aliases: []string{"DR"}},
			{Name: "SECRET", Aliases: []string{"SECRET DEFENSE", "SECRET DÉFENSE", "CONFIDENTIEL DEFENSE", "CONFIDENTIEL DÉFENSE"}},
			{Name: "TRES SECRET", Aliases: []string{"TRÈS SECRET", "TRES SECRET DEFENSE", "TRÈS SECRET DÉFENSE"}},
		}},
		{Policy: "DEU", Name: "German classification (Verschlusssachenanweisung)", Prefixes: []string{"DE"}, Scale: []Level{
			{Name: "VS-NUR FÜR DEN DIENSTGEBRAUCH", Aliases: []string{"VS-NFD", "VS-NUR FUER DEN DIENSTGEBRAUCH", "VS - NUR FÜR DEN DIENSTGEBRAUCH"}},
			{Name: "VS-VERTRAULICH", Aliases: []string{"VS - VERTRAULICH"}},
			{Name: "GEHEIM"},
			{Name: "STRENG GEHEIM"},
		}},
		{Policy: "NLD", Name: "Dutch classification (VIR-BI)", Prefixes: []string{"NL"}, Scale: []Level{
			{Name: "DEPARTEMENTAAL VERTROUWELIJK", Aliases: []string{"DEP. V.", "DEP.V.", "DEPV"}},
			{Name: "STG. CONFIDENTIEEL", Aliases: []string{"STG CONFIDENTIEEL", "STAATSGEHEIM CONFIDENTIEEL"}},
			{Name: "STG. GEHEIM", Aliases: []string{"STG GEHEIM", "STAATSGEHEIM GEHEIM"}},
			{Name: "STG. ZEER GEHEIM", Aliases: []string{"STG ZEER GEHEIM", "STAATSGEHEIM ZEER GEHEIM"}},
		}},
		{Policy: "ITA", Name: "Italian classification (law 124/2007)", Prefixes: []string{"IT"}, Scale: []Level{
			{Name: "RISERVATO"},
			{Name: "RISERVATISSIMO"},
			{Name: "SEGRETO"},
			{Name: "SEGRETISSIMO"},
		}},
		{Policy: "ESP", Name: "Spanish classification (law 9/1968)", Prefixes: []string{"ES"}, Scale: []Level{
			{Name: "DIFUSION LIMITADA", Aliases: []string{"DIFUSIÓN LIMITADA"}},
			{Name: "CONFIDENCIAL"},
			{Name: "RESERVADO"},
			{Name: "SECRETO"},
		}},
		{Policy: "JPN", Name: "Japanese Ministry of Defense classification", Prefixes: []string{"JP"}, Scale: []Level{
			{Name: "HI", Aliases: []string{"秘"}},
			{Name: "GOKUHI", Aliases: []string{"極秘"}},
			{Name: "KIMITSU", Aliases: []string{"機密"}},
		}},
	}
}

// builtinPolicies are the policies of the built-in schemes, which
// RegisterScheme refuses to redefine.
var builtinPolicies = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range builtinSchemes() {
		m[s.Policy] = struct{}{}
	}
	return m
}()

// reservedWords are the banner keywords (first words of a segment), which
// cannot be policy identifiers or prefixes.
var reservedWords = map[string]struct{}{
	"ATOMAL": {}, "AUTHORIZED": {}, "DISPLAY": {}, "DISPLAYONLY": {}, "EXERCISE": {},
	"EXPIRES": {}, "EYES": {}, "FOR": {}, "FOUO": {}, "GRADE": {}, "H0": {}, "H1": {},
	"H2": {}, "H3": {}, "IEP": {}, "INFORMATIVE": {}, "NARROWING": {}, "NF": {},
	"NOFORN": {}, "NOT": {}, "OC": {}, "ORCON": {}, "ORIG": {}, "ORIGINATOR": {},
	"PAP": {}, "PERMISSIVE": {}, "PERSONAL": {}, "PROPIN": {}, "PURPOSE": {},
	"REL": {}, "RELEASABLE": {}, "RELIDO": {}, "RESTRICTIVE": {}, "RETAIN": {},
	"REVIEW": {}, "SUPERSEDED": {}, "TLP": {},
}
