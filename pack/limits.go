package pack

// Format limits (COMPAT §1.13). They cannot be configured.
const (
	MaxArtifactSize    = 100 << 20 // one artifact, decompressed
	MaxReadBudget      = 2 << 30   // artifact bytes one operation reads beyond the pack file's size
	MaxArtifacts       = 10000     // files under artifacts/
	MaxEntries         = 15000     // ZIP entries, directories included
	MaxRatio           = 100       // uncompressed:compressed
	MaxManifestSize    = 10 << 20
	MaxAttestationSize = 1 << 20
	MaxPathLen         = 240
	MaxSegmentLen      = 80
	// MaxManifestValues bounds the JSON values in manifest.json (about 70 MiB
	// of parse tree at worst); a 10,000-artifact manifest uses about 100,000.
	MaxManifestValues = 1_000_000
)

// SpecVersion is the only manifest spec_version this package reads and writes.
const SpecVersion = "1.0"
