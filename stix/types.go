package stix

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/tearline/tearline/stix/pattern"
)

// The type tables below follow the STIX 2.1 specification (OASIS Standard,
// 10 June 2021), sections 4 to 7. They encode what the spec says MUST hold;
// open vocabularies (SHOULD) are only checked to be strings, while closed
// enumerations are enforced.

// props builds a property map from alternating names and specs.
func props(common map[string]*prop, pairs ...any) map[string]*prop {
	m := make(map[string]*prop, len(common)+len(pairs)/2)
	for k, v := range common {
		m[k] = v
	}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i].(string)] = pairs[i+1].(*prop)
	}
	return m
}

var (
	granularMarkingSpec = &objSpec{
		required: []string{"selectors"},
		props: props(nil,
			"lang", pString,
			"marking_ref", ref("marking-definition"),
			"selectors", pStrings,
		),
		extra: func(c *checker, v *Value) {
			_, lang := v.Get("lang")
			_, mref := v.Get("marking_ref")
			if lang == mref {
				c.add("granular-marking", "$", "a granular marking must have exactly one of lang and marking_ref")
			}
		},
	}
	killChainSpec = &objSpec{
		required: []string{"kill_chain_name", "phase_name"},
		props:    props(nil, "kill_chain_name", pString, "phase_name", pString),
	}
	externalRefSpec = &objSpec{
		required: []string{"source_name"},
		props: props(nil,
			"source_name", pString,
			"description", pString,
			"url", pString,
			"hashes", pHashes,
			"external_id", pString,
		),
		extra: func(c *checker, v *Value) {
			// The spec: at least one of description, url or external_id.
			requireOneOf(c, v, "$", "description", "url", "external_id")
		},
	}
)

var sdoCommon = props(nil,
	"type", pString,
	"spec_version", enum("2.1"),
	"id", pString, // checked separately against the type
	"created_by_ref", ref("identity"),
	"created", pTimestamp,
	"modified", pTimestamp,
	"revoked", pBoolean,
	"labels", pStrings,
	"confidence", intRange(0, 100),
	"lang", pString,
	"external_references", pExtRefs,
	"object_marking_refs", refs("marking-definition"),
	"granular_markings", listOf(object(granularMarkingSpec)),
	"extensions", pDict, // checked separately
)

var sdoRequired = []string{"type", "spec_version", "id", "created", "modified"}

var scoCommon = props(nil,
	"type", pString,
	"spec_version", enum("2.1"),
	"id", pString,
	"object_marking_refs", refs("marking-definition"),
	"granular_markings", listOf(object(granularMarkingSpec)),
	"defanged", pBoolean,
	"extensions", pDict,
)

var scoRequired = []string{"type", "id"}

func sdo(required []string, extra func(*checker, *Value), pairs ...any) *typeSpec {
	return &typeSpec{class: classSDO, spec: objSpec{
		required: append(append([]string{}, sdoRequired...), required...),
		props:    props(sdoCommon, pairs...),
		extra:    extra,
	}}
}

func sco(required []string, contrib []string, extra func(*checker, *Value), pairs ...any) *typeSpec {
	return &typeSpec{class: classSCO, idContrib: contrib, spec: objSpec{
		required: append(append([]string{}, scoRequired...), required...),
		props:    props(scoCommon, pairs...),
		extra:    extra,
	}}
}

func req(names ...string) []string { return names }

func seen(c *checker, v *Value) { timeOrder(c, v, "first_seen", "last_seen", false) }

var (
	macPattern  = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}((:[0-9a-f]{2}){2})?$`)
	addressRefs = []string{"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}
)

// Closed enumerations (the spec's "-enum" vocabularies).
var (
	opinionEnum       = enum("strongly-disagree", "disagree", "neutral", "agree", "strongly-agree")
	extensionTypeEnum = enum("new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension")
	encryptionEnum    = enum("AES-256-GCM", "ChaCha20Poly1305", "mime-type-indicated")
	addressFamilyEnum = enum("AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA", "AF_BTH")
	socketTypeEnum    = enum("SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET")
	integrityEnum     = enum("low", "medium", "high", "system")
	registryTypeEnum  = enum("REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN",
		"REG_DWORD_LITTLE_ENDIAN", "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST", "REG_FULL_RESOURCE_DESCRIPTION",
		"REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD", "REG_INVALID_TYPE")
	startTypeEnum     = enum("SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED", "SERVICE_SYSTEM_ALERT")
	serviceTypeEnum   = enum("SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS", "SERVICE_WIN32_SHARE_PROCESS")
	serviceStatusEnum = enum("SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
		"SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED")
)

var mimePartSpec = &objSpec{
	props: props(nil,
		"body", pString,
		"body_raw_ref", ref("artifact", "file"),
		"content_type", pString,
		"content_disposition", pString,
	),
	extra: func(c *checker, v *Value) {
		requireOneOf(c, v, "$", "body", "body_raw_ref")
		mutuallyExclusive(c, v, "$", "body", "body_raw_ref")
	},
}

var registryValueSpec = &objSpec{
	props: props(nil, "name", pString, "data", pString, "data_type", registryTypeEnum),
}

var x509ExtensionsSpec = &objSpec{props: props(nil,
	"basic_constraints", pString, "name_constraints", pString, "policy_constraints", pString,
	"key_usage", pString, "extended_key_usage", pString, "subject_key_identifier", pString,
	"authority_key_identifier", pString, "subject_alternative_name", pString,
	"issuer_alternative_name", pString, "subject_directory_attributes", pString,
	"crl_distribution_points", pString, "inhibit_any_policy", pString,
	"private_key_usage_period_not_before", pTimestamp, "private_key_usage_period_not_after", pTimestamp,
	"certificate_policies", pString, "policy_mappings", pString,
)}

var windowsPESectionSpec = &objSpec{
	required: req("name"),
	props:    props(nil, "name", pString, "size", intRange(0, math64), "entropy", pFloat, "hashes", pHashes),
}

var windowsPEOptionalHeaderSpec = &objSpec{props: props(nil,
	"magic_hex", pHex, "major_linker_version", pInteger, "minor_linker_version", pInteger,
	"size_of_code", intRange(0, math64), "size_of_initialized_data", intRange(0, math64),
	"size_of_uninitialized_data", intRange(0, math64), "address_of_entry_point", pInteger,
	"base_of_code", pInteger, "base_of_data", pInteger, "image_base", pInteger,
	"section_alignment", pInteger, "file_alignment", pInteger,
	"major_os_version", pInteger, "minor_os_version", pInteger,
	"major_image_version", pInteger, "minor_image_version", pInteger,
	"major_subsystem_version", pInteger, "minor_subsystem_version", pInteger,
	"win32_version_value_hex", pHex, "size_of_image", intRange(0, math64),
	"size_of_headers", intRange(0, math64), "checksum_hex", pHex, "subsystem_hex", pHex,
	"dll_characteristics_hex", pHex, "size_of_stack_reserve", intRange(0, math64),
	"size_of_stack_commit", intRange(0, math64), "size_of_heap_reserve", intRange(0, math64),
	"size_of_heap_commit", intRange(0, math64), "loader_flags_hex", pHex,
	"number_of_rva_and_sizes", pInteger, "hashes", pHashes,
)}

// math64 bounds non-negative integers; JSON numbers beyond it are not exact.
const math64 = 1 << 53

// predefinedExtensions are the SCO extensions the spec defines, by the
// object type they extend.
var predefinedExtensions = map[string]map[string]*objSpec{
	"file": {
		"archive-ext": {required: req("contains_refs"), props: props(nil,
			"contains_refs", refs("file", "directory"), "comment", pString)},
		"ntfs-ext": {props: props(nil,
			"sid", pString,
			"alternate_data_streams", listOf(object(&objSpec{required: req("name"),
				props: props(nil, "name", pString, "hashes", pHashes, "size", intRange(0, math64))})))},
		"pdf-ext": {props: props(nil,
			"version", pString, "is_optimized", pBoolean, "document_info_dict", pDict,
			"pdfid0", pString, "pdfid1", pString)},
		"raster-image-ext": {props: props(nil,
			"image_height", pInteger, "image_width", pInteger, "bits_per_pixel", pInteger, "exif_tags", pDict)},
		"windows-pebinary-ext": {required: req("pe_type"), props: props(nil,
			"pe_type", pString, "imphash", pString, "machine_hex", pHex, "number_of_sections", intRange(0, math64),
			"time_date_stamp", pTimestamp, "pointer_to_symbol_table_hex", pHex, "number_of_symbols", intRange(0, math64),
			"size_of_optional_header", intRange(0, math64), "characteristics_hex", pHex,
			"file_header_hashes", pHashes, "optional_header", object(windowsPEOptionalHeaderSpec),
			"sections", listOf(object(windowsPESectionSpec)))},
	},
	"network-traffic": {
		"http-request-ext": {required: req("request_method", "request_value"), props: props(nil,
			"request_method", pString, "request_value", pString, "request_version", pString,
			"request_header", pDict, "message_body_length", intRange(0, math64),
			"message_body_data_ref", ref("artifact"))},
		"icmp-ext": {required: req("icmp_type_hex", "icmp_code_hex"), props: props(nil,
			"icmp_type_hex", pHex, "icmp_code_hex", pHex)},
		"socket-ext": {required: req("address_family"), props: props(nil,
			"address_family", addressFamilyEnum, "is_blocking", pBoolean, "is_listening", pBoolean,
			"options", pDict, "socket_type", socketTypeEnum, "socket_descriptor", intRange(0, math64),
			"socket_handle", pInteger)},
		"tcp-ext": {props: props(nil, "src_flags_hex", pHex, "dst_flags_hex", pHex)},
	},
	"process": {
		"windows-process-ext": {props: props(nil,
			"aslr_enabled", pBoolean, "dep_enabled", pBoolean, "priority", pString, "owner_sid", pString,
			"window_title", pString, "startup_info", pDict, "integrity_level", integrityEnum)},
		"windows-service-ext": {props: props(nil,
			"service_name", pString, "descriptions", pStrings, "display_name", pString, "group_name", pString,
			"start_type", startTypeEnum, "service_dll_refs", refs("file"), "service_type", serviceTypeEnum,
			"service_status", serviceStatusEnum)},
	},
	"user-account": {
		"unix-account-ext": {props: props(nil,
			"gid", pInteger, "groups", pStrings, "home_dir", pString, "shell", pString)},
	},
}

// types is the table of every object type defined by STIX 2.1.
var types = map[string]*typeSpec{
	// Domain objects (section 4).
	"attack-pattern": sdo(req("name"), nil,
		"name", pString, "description", pString, "aliases", pStrings, "kill_chain_phases", pKillChain),
	"campaign": sdo(req("name"), seen,
		"name", pString, "description", pString, "aliases", pStrings,
		"first_seen", pTimestamp, "last_seen", pTimestamp, "objective", pString),
	"course-of-action": sdo(req("name"), nil,
		"name", pString, "description", pString,
		"action_type", pString, "os_execution_envs", pStrings, "action_bin", pBinary, "action_reference", &prop{kind: kExternalRef}),
	"grouping": sdo(req("context", "object_refs"), nil,
		"name", pString, "description", pString, "context", pString, "object_refs", refs(refAny)),
	"identity": sdo(req("name"), nil,
		"name", pString, "description", pString, "roles", pStrings, "identity_class", pString,
		"sectors", pStrings, "contact_information", pString),
	"incident": sdo(req("name"), nil,
		"name", pString, "description", pString, "kill_chain_phases", pKillChain),
	"indicator": sdo(req("pattern", "pattern_type", "valid_from"), func(c *checker, v *Value) {
		timeOrder(c, v, "valid_from", "valid_until", true)
		checkIndicatorPattern(c, v)
	},
		"name", pString, "description", pString, "indicator_types", pStrings,
		"pattern", pString, "pattern_type", pString, "pattern_version", pString,
		"valid_from", pTimestamp, "valid_until", pTimestamp, "kill_chain_phases", pKillChain),
	"infrastructure": sdo(req("name"), seen,
		"name", pString, "description", pString, "infrastructure_types", pStrings, "aliases", pStrings,
		"kill_chain_phases", pKillChain, "first_seen", pTimestamp, "last_seen", pTimestamp),
	"intrusion-set": sdo(req("name"), seen,
		"name", pString, "description", pString, "aliases", pStrings,
		"first_seen", pTimestamp, "last_seen", pTimestamp, "goals", pStrings,
		"resource_level", pString, "primary_motivation", pString, "secondary_motivations", pStrings),
	"location": sdo(nil, checkLocation,
		"name", pString, "description", pString, "latitude", floatRange(-90, 90), "longitude", floatRange(-180, 180),
		"precision", floatRange(0, math64), "region", pString, "country", pString, "administrative_area", pString,
		"city", pString, "street_address", pString, "postal_code", pString),
	"malware": sdo(req("is_family"), func(c *checker, v *Value) {
		seen(c, v)
		if f, ok := v.Get("is_family"); ok && f.Kind == Bool && f.Bool {
			if _, ok := v.Get("name"); !ok {
				c.add("required-property", "$.name", "name is required when is_family is true")
			}
		}
	},
		"name", pString, "description", pString, "malware_types", pStrings, "is_family", pBoolean,
		"aliases", pStrings, "kill_chain_phases", pKillChain, "first_seen", pTimestamp, "last_seen", pTimestamp,
		"operating_system_refs", refs("software"), "architecture_execution_envs", pStrings,
		"implementation_languages", pStrings, "capabilities", pStrings, "sample_refs", refs("file", "artifact")),
	"malware-analysis": sdo(req("product"), func(c *checker, v *Value) {
		requireOneOf(c, v, "$", "result", "analysis_sco_refs")
		timeOrder(c, v, "analysis_started", "analysis_ended", false)
	},
		"product", pString, "version", pString, "host_vm_ref", ref("software"),
		"operating_system_ref", ref("software"), "installed_software_refs", refs("software"),
		"configuration_version", pString, "modules", pStrings, "analysis_engine_version", pString,
		"analysis_definition_version", pString, "submitted", pTimestamp, "analysis_started", pTimestamp,
		"analysis_ended", pTimestamp, "result_name", pString, "result", pString,
		"analysis_sco_refs", refs(refSCO), "sample_ref", ref("file", "artifact", "network-traffic")),
	"note": sdo(req("content", "object_refs"), nil,
		"abstract", pString, "content", pString, "authors", pStrings, "object_refs", refs(refAny)),
	"observed-data": sdo(req("first_observed", "last_observed", "number_observed"), func(c *checker, v *Value) {
		timeOrder(c, v, "first_observed", "last_observed", false)
		requireOneOf(c, v, "$", "object_refs", "objects")
		mutuallyExclusive(c, v, "$", "object_refs", "objects")
	},
		"first_observed", pTimestamp, "last_observed", pTimestamp, "number_observed", intRange(1, 999999999),
		"objects", pDict, "object_refs", refs(refSCO, "relationship", "sighting")),
	"opinion": sdo(req("opinion", "object_refs"), nil,
		"explanation", pString, "authors", pStrings, "opinion", opinionEnum, "object_refs", refs(refAny)),
	"report": sdo(req("name", "published", "object_refs"), nil,
		"name", pString, "description", pString, "report_types", pStrings, "published", pTimestamp,
		"object_refs", refs(refAny)),
	"threat-actor": sdo(req("name"), seen,
		"name", pString, "description", pString, "threat_actor_types", pStrings, "aliases", pStrings,
		"first_seen", pTimestamp, "last_seen", pTimestamp, "roles", pStrings, "goals", pStrings,
		"sophistication", pString, "resource_level", pString, "primary_motivation", pString,
		"secondary_motivations", pStrings, "personal_motivations", pStrings),
	"tool": sdo(req("name"), nil,
		"name", pString, "description", pString, "tool_types", pStrings, "aliases", pStrings,
		"kill_chain_phases", pKillChain, "tool_version", pString),
	"vulnerability": sdo(req("name"), nil,
		"name", pString, "description", pString),

	// Relationship objects (section 5).
	"relationship": {class: classSRO, spec: objSpec{
		required: append(append([]string{}, sdoRequired...), "relationship_type", "source_ref", "target_ref"),
		props: props(sdoCommon,
			"relationship_type", pString, "description", pString,
			"source_ref", ref(refSDO, refSCO), "target_ref", ref(refSDO, refSCO),
			"start_time", pTimestamp, "stop_time", pTimestamp),
		extra: func(c *checker, v *Value) {
			timeOrder(c, v, "start_time", "stop_time", true)
			if rt, ok := v.Get("relationship_type"); ok && rt.Kind == String && !vocabName(rt.Str) {
				c.add("relationship-type", "$.relationship_type", "%q must be lowercase ASCII letters, digits and hyphens", rt.Str)
			}
		},
	}},
	"sighting": {class: classSRO, spec: objSpec{
		required: append(append([]string{}, sdoRequired...), "sighting_of_ref"),
		props: props(sdoCommon,
			"description", pString, "first_seen", pTimestamp, "last_seen", pTimestamp,
			"count", intRange(0, 999999999), "sighting_of_ref", ref(refSDO),
			"observed_data_refs", refs("observed-data"), "where_sighted_refs", refs("identity", "location"),
			"summary", pBoolean),
		extra: seen,
	}},

	// Cyber-observable objects (section 6).
	"artifact": sco(nil, req("hashes", "payload_bin"), func(c *checker, v *Value) {
		mutuallyExclusive(c, v, "$", "payload_bin", "url")
		dependsOn(c, v, "url", "hashes")
		dependsOn(c, v, "decryption_key", "encryption_algorithm")
	},
		"mime_type", pString, "payload_bin", pBinary, "url", pString, "hashes", pHashes,
		"encryption_algorithm", encryptionEnum, "decryption_key", pString),
	"autonomous-system": sco(req("number"), req("number"), nil,
		"number", intRange(0, 4294967295), "name", pString, "rir", pString),
	"directory": sco(req("path"), req("path"), nil,
		"path", pString, "path_enc", pString, "ctime", pTimestamp, "mtime", pTimestamp, "atime", pTimestamp,
		"contains_refs", refs("file", "directory")),
	"domain-name": sco(req("value"), req("value"), nil,
		"value", pString, "resolves_to_refs", refs("ipv4-addr", "ipv6-addr", "domain-name")),
	"email-addr": sco(req("value"), req("value"), nil,
		"value", pString, "display_name", pString, "belongs_to_ref", ref("user-account")),
	"email-message": sco(req("is_multipart"), req("from_ref", "subject", "body"), func(c *checker, v *Value) {
		if m, ok := v.Get("is_multipart"); ok && m.Kind == Bool {
			if m.Bool {
				if _, ok := v.Get("body"); ok {
					c.add("multipart-body", "$.body", "body must not be used when is_multipart is true; use body_multipart")
				}
			} else if _, ok := v.Get("body_multipart"); ok {
				c.add("multipart-body", "$.body_multipart", "body_multipart must not be used when is_multipart is false")
			}
		}
	},
		"is_multipart", pBoolean, "date", pTimestamp, "content_type", pString, "from_ref", ref("email-addr"),
		"sender_ref", ref("email-addr"), "to_refs", refs("email-addr"), "cc_refs", refs("email-addr"),
		"bcc_refs", refs("email-addr"), "message_id", pString, "subject", pString, "received_lines", pStrings,
		"additional_header_fields", pDict, "body", pString, "body_multipart", listOf(object(mimePartSpec)),
		"raw_email_ref", ref("artifact")),
	"file": sco(nil, req("hashes", "name", "extensions", "parent_directory_ref"), func(c *checker, v *Value) {
		requireOneOf(c, v, "$", "hashes", "name")
	},
		"hashes", pHashes, "size", intRange(0, math64), "name", pString, "name_enc", pString,
		"magic_number_hex", pHex, "mime_type", pString, "ctime", pTimestamp, "mtime", pTimestamp,
		"atime", pTimestamp, "parent_directory_ref", ref("directory"), "contains_refs", refs(refSCO),
		"content_ref", ref("artifact")),
	"ipv4-addr": sco(req("value"), req("value"), nil,
		"value", pString, "resolves_to_refs", refs("mac-addr"), "belongs_to_refs", refs("autonomous-system")),
	"ipv6-addr": sco(req("value"), req("value"), nil,
		"value", pString, "resolves_to_refs", refs("mac-addr"), "belongs_to_refs", refs("autonomous-system")),
	"mac-addr": sco(req("value"), req("value"), func(c *checker, v *Value) {
		if m, ok := v.Get("value"); ok && m.Kind == String && !macPattern.MatchString(m.Str) {
			c.add("mac-address-format", "$.value", "%q must be a lowercase, colon-delimited MAC-48 or EUI-64 address with leading zeros", m.Str)
		}
	},
		"value", pString),
	"mutex": sco(req("name"), req("name"), nil, "name", pString),
	"network-traffic": sco(req("protocols"), req("start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"),
		func(c *checker, v *Value) {
			requireOneOf(c, v, "$", "src_ref", "dst_ref")
			timeOrder(c, v, "start", "end", false)
			if a, ok := v.Get("is_active"); ok && a.Kind == Bool && a.Bool {
				if _, ok := v.Get("end"); ok {
					c.add("dependent-property", "$.end", "end must not be present when is_active is true")
				}
			}
		},
		"start", pTimestamp, "end", pTimestamp, "is_active", pBoolean,
		"src_ref", ref(addressRefs...), "dst_ref", ref(addressRefs...),
		"src_port", intRange(0, 65535), "dst_port", intRange(0, 65535), "protocols", pStrings,
		"src_byte_count", intRange(0, math64), "dst_byte_count", intRange(0, math64),
		"src_packets", intRange(0, math64), "dst_packets", intRange(0, math64), "ipfix", pDict,
		"src_payload_ref", ref("artifact"), "dst_payload_ref", ref("artifact"),
		"encapsulates_refs", refs("network-traffic"), "encapsulated_by_ref", ref("network-traffic")),
	"process": sco(nil, nil, func(c *checker, v *Value) { atLeastOneProperty(c, v) },
		"is_hidden", pBoolean, "pid", pInteger, "created_time", pTimestamp, "cwd", pString,
		"command_line", pString, "environment_variables", pDict, "opened_connection_refs", refs("network-traffic"),
		"creator_user_ref", ref("user-account"), "image_ref", ref("file"), "parent_ref", ref("process"),
		"child_refs", refs("process")),
	"software": sco(req("name"), req("name", "cpe", "swid", "vendor", "version"), nil,
		"name", pString, "cpe", pString, "swid", pString, "languages", pStrings, "vendor", pString, "version", pString),
	"url": sco(req("value"), req("value"), nil, "value", pString),
	"user-account": sco(nil, req("account_type", "user_id", "account_login"), func(c *checker, v *Value) { atLeastOneProperty(c, v) },
		"user_id", pString, "credential", pString, "account_login", pString, "account_type", pString,
		"display_name", pString, "is_service_account", pBoolean, "is_privileged", pBoolean,
		"can_escalate_privs", pBoolean, "is_disabled", pBoolean, "account_created", pTimestamp,
		"account_expires", pTimestamp, "credential_last_changed", pTimestamp,
		"account_first_login", pTimestamp, "account_last_login", pTimestamp),
	"windows-registry-key": sco(nil, req("key", "values"), func(c *checker, v *Value) { atLeastOneProperty(c, v) },
		"key", pString, "values", listOf(object(registryValueSpec)), "modified_time", pTimestamp,
		"creator_user_ref", ref("user-account"), "number_of_subkeys", intRange(0, math64)),
	"x509-certificate": sco(nil, req("hashes", "serial_number"), func(c *checker, v *Value) {
		atLeastOneProperty(c, v)
		timeOrder(c, v, "validity_not_before", "validity_not_after", false)
	},
		"is_self_signed", pBoolean, "hashes", pHashes, "version", pString, "serial_number", pString,
		"signature_algorithm", pString, "issuer", pString, "validity_not_before", pTimestamp,
		"validity_not_after", pTimestamp, "subject", pString, "subject_public_key_algorithm", pString,
		"subject_public_key_modulus", pString, "subject_public_key_exponent", pInteger,
		"x509_v3_extensions", object(x509ExtensionsSpec)),

	// Meta objects (section 7).
	"marking-definition": {class: classMeta, spec: objSpec{
		required: req("type", "spec_version", "id", "created"),
		props: props(nil,
			"type", pString, "spec_version", enum("2.1"), "id", pString,
			"created_by_ref", ref("identity"), "created", pTimestamp,
			"external_references", pExtRefs, "object_marking_refs", refs("marking-definition"),
			"granular_markings", listOf(object(granularMarkingSpec)), "extensions", pDict,
			"name", pString, "definition_type", pString, "definition", pDict),
		extra: checkMarkingDefinition,
	}},
	"language-content": {class: classMeta, spec: objSpec{
		required: append(append([]string{}, sdoRequired...), "object_ref", "contents"),
		props: props(sdoCommon,
			"object_ref", ref(refAny), "object_modified", pTimestamp, "contents", pDict),
		extra: func(c *checker, v *Value) {
			cs, ok := v.Get("contents")
			if !ok || cs.Kind != Object {
				return
			}
			for _, m := range cs.Obj {
				if m.Value.Kind != Object {
					c.add("property-type", "$.contents."+m.Key, "each language's contents must be a dictionary, not %s", m.Value.Kind)
				}
			}
		},
	}},
	"extension-definition": {class: classMeta, spec: objSpec{
		required: append(append([]string{}, sdoRequired...), "created_by_ref", "name", "schema", "version", "extension_types"),
		props: props(sdoCommon,
			"name", pString, "description", pString, "schema", pString, "version", pString,
			"extension_types", listOf(extensionTypeEnum), "extension_properties", pStrings),
		extra: func(c *checker, v *Value) {
			et, ok := v.Get("extension_types")
			if !ok || et.Kind != Array {
				return
			}
			top := false
			for _, e := range et.Arr {
				top = top || e.Str == "toplevel-property-extension"
			}
			if _, ok := v.Get("extension_properties"); ok && !top {
				c.add("dependent-property", "$.extension_properties", "extension_properties is only for toplevel-property-extension definitions")
			}
		},
	}},
}

// vocabName reports whether s is lowercase ASCII letters, digits and
// hyphens, the form the spec requires of relationship types.
func vocabName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkLocation(c *checker, v *Value) {
	_, lat := v.Get("latitude")
	_, lon := v.Get("longitude")
	_, region := v.Get("region")
	_, country := v.Get("country")
	if !region && !country && !(lat && lon) {
		c.add("required-property", "$", "a location needs region, country, or latitude and longitude")
	}
	dependsOn(c, v, "latitude", "longitude")
	dependsOn(c, v, "longitude", "latitude")
	dependsOn(c, v, "precision", "latitude", "longitude")
}

// atLeastOneProperty enforces the spec's rule for observables with no
// required property: they must carry something besides the common ones.
func atLeastOneProperty(c *checker, v *Value) {
	for _, m := range v.Obj {
		if _, common := scoCommon[m.Key]; !common || m.Key == "extensions" {
			return
		}
	}
	c.add("required-property", "$", "this object must have at least one property besides the common ones")
}

// TLP 1.0 marking definitions predefined by STIX 2.1 (section 7.2.1.4).
var tlp1 = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

func checkMarkingDefinition(c *checker, v *Value) {
	dt, hasType := v.Get("definition_type")
	def, hasDef := v.Get("definition")
	_, hasExt := v.Get("extensions")
	if hasType != hasDef {
		c.add("dependent-property", "$.definition", "definition_type and definition must be present together")
	}
	if !hasType && !hasExt {
		c.add("required-property", "$", "a marking definition needs definition_type and definition, or an extension")
	}
	if hasType && hasDef && dt.Kind == String && def.Kind == Object {
		switch dt.Str {
		case "tlp":
			t, ok := def.Get("tlp")
			if !ok || t.Kind != String || !contains([]string{"white", "green", "amber", "red"}, t.Str) || len(def.Obj) != 1 {
				c.add("marking-definition", "$.definition", `a TLP 1.0 definition is {"tlp": "white"|"green"|"amber"|"red"}`)
				return
			}
			if id, ok := v.Get("id"); ok && id.Kind == String {
				if want, known := tlp1[id.Str]; !known || want != t.Str {
					c.add("marking-definition", "$.id", "TLP 1.0 markings must use the ids the spec predefines; %s is not the TLP:%s id", id.Str, strings.ToUpper(t.Str))
				}
			}
		case "statement":
			s, ok := def.Get("statement")
			if !ok || s.Kind != String || len(def.Obj) != 1 {
				c.add("marking-definition", "$.definition", `a statement definition is {"statement": "..."}`)
			}
		}
	}
}

// checkExtensions validates the extensions dictionary of an object of type
// typ.
func checkExtensions(c *checker, typ string, v *Value) {
	ext, ok := v.Get("extensions")
	if !ok || ext.Kind != Object {
		return
	}
	if len(ext.Obj) == 0 {
		c.add("empty-dictionary", "$.extensions", "extensions must not be empty; omit the property instead")
	}
	top := c.enter("extensions")
	defer c.leave(top)
	for i := range ext.Obj {
		m := &ext.Obj[i]
		n := c.enter(m.Key)
		checkExtension(c, typ, m)
		c.leave(n)
	}
}

// checkExtension checks one member of an extensions dictionary; the checker
// stands at it.
func checkExtension(c *checker, typ string, m *Member) {
	if m.Value.Kind != Object {
		c.add("property-type", "$", "an extension must be an object, not %s", m.Value.Kind)
		return
	}
	if strings.HasPrefix(m.Key, "extension-definition--") {
		if typ, _, ok := splitIdentifier(m.Key); !ok || typ != "extension-definition" {
			c.add("extension-name", "$", "%q is not an extension-definition identifier", m.Key)
		}
		if et, ok := m.Value.Get("extension_type"); ok {
			n := c.enter("extension_type")
			c.value(extensionTypeEnum, et)
			c.leave(n)
		}
		return
	}
	if spec, ok := predefinedExtensions[typ][m.Key]; ok {
		c.object(spec, &m.Value, true)
		if len(m.Value.Obj) == 0 {
			c.add("empty-extension", "$", "the %s extension must hold at least one property", m.Key)
		}
		return
	}
	// Custom extensions named freely were allowed in STIX 2.0 and are
	// deprecated in 2.1; they are kept, their names checked.
	if !validTypeName(m.Key, 3) {
		c.add("extension-name", "$", "%q is neither an extension-definition id nor a valid extension name", m.Key)
	}
}

// checkSelectors verifies that every granular marking selector resolves to a
// property of the object, as the spec requires.
func checkSelectors(c *checker, v *Value) {
	gm, ok := v.Get("granular_markings")
	if !ok || gm.Kind != Array {
		return
	}
	for i := range gm.Arr {
		sels, ok := gm.Arr[i].Get("selectors")
		if !ok || sels.Kind != Array {
			continue
		}
		for j := range sels.Arr {
			s := &sels.Arr[j]
			if s.Kind != String {
				continue
			}
			if msg := resolveSelector(v, s.Str); msg != "" {
				c.add("granular-selector", "$.granular_markings["+strconv.Itoa(i)+"].selectors["+strconv.Itoa(j)+"]",
					"selector %q does not resolve: %s", s.Str, msg)
			}
		}
	}
}

func resolveSelector(v *Value, sel string) string {
	if sel == "" {
		return "empty selector"
	}
	cur := v
	for _, part := range strings.Split(sel, ".") {
		switch cur.Kind {
		case Object:
			next, ok := cur.Get(part)
			if !ok {
				return "no property " + strconv.Quote(part)
			}
			cur = next
		case Array:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(cur.Arr) || strconv.Itoa(n) != part {
				return "no list index " + strconv.Quote(part)
			}
			cur = &cur.Arr[n]
		default:
			return "cannot descend into a " + cur.Kind.String() + " at " + strconv.Quote(part)
		}
	}
	return ""
}

// checkIndicatorPattern parses the pattern of an indicator written in the
// STIX patterning language. Other languages (pcre, sigma, snort, yara,
// ...) are not STIX's to check; a pattern that is not a string is
// reported by the property check.
func checkIndicatorPattern(c *checker, v *Value) {
	pt, ok := v.Get("pattern_type")
	if !ok || pt.Kind != String || pt.Str != "stix" {
		return
	}
	p, ok := v.Get("pattern")
	if !ok || p.Kind != String {
		return
	}
	_, err := pattern.Parse(p.Str)
	if err == nil {
		return
	}
	var se *pattern.SyntaxError
	if errors.As(err, &se) {
		c.add("indicator-pattern", "$.pattern", "not a valid STIX pattern: at offset %d (line %d, column %d): %s; "+
			"correct the pattern, or set pattern_type to the language it is written in", se.Offset, se.Line, se.Column, se.Msg)
		return
	}
	c.add("indicator-pattern", "$.pattern", "not a valid STIX pattern: %v", err)
}
