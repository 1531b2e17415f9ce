package protocol

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func partOf(n int, data []byte) PartChecksum {
	m, s := md5.Sum(data), sha256.Sum256(data)
	return PartChecksum{PartNumber: n, SizeBytes: int64(len(data)),
		MD5: base64.StdEncoding.EncodeToString(m[:]), SHA256: base64.StdEncoding.EncodeToString(s[:])}
}

func TestMultipartOfferCheck(t *testing.T) {
	good := func() *MultipartOffer {
		return &MultipartOffer{PartSize: 4, Parts: []PartChecksum{partOf(1, []byte("abcd")), partOf(2, []byte("abcd")), partOf(3, []byte("ef"))}}
	}
	if err := good().Check(10); err != nil {
		t.Fatalf("good offer refused: %v", err)
	}
	cases := map[string]func(o *MultipartOffer) int64{
		"size mismatch":     func(o *MultipartOffer) int64 { return 11 },
		"too few parts":     func(o *MultipartOffer) int64 { o.Parts = o.Parts[:2]; return 10 },
		"wrong numbering":   func(o *MultipartOffer) int64 { o.Parts[1].PartNumber = 3; return 10 },
		"short middle part": func(o *MultipartOffer) int64 { o.Parts[1].SizeBytes = 3; return 10 },
		"bad md5":           func(o *MultipartOffer) int64 { o.Parts[0].MD5 = "abc"; return 10 },
		"sha256 not 32":     func(o *MultipartOffer) int64 { o.Parts[0].SHA256 = o.Parts[0].MD5; return 10 },
		"zero part size":    func(o *MultipartOffer) int64 { o.PartSize = 0; return 10 },
		"bad resume id": func(o *MultipartOffer) int64 {
			o.Resume = &MultipartResume{UploadID: "a b", FinalizeToken: "tok"}
			return 10
		},
		"resume without token": func(o *MultipartOffer) int64 {
			o.Resume = &MultipartResume{UploadID: "abc"}
			return 10
		},
	}
	noMD5 := good()
	for i := range noMD5.Parts {
		noMD5.Parts[i].MD5 = ""
	}
	if err := noMD5.Check(10); err != nil {
		t.Errorf("an offer without MD5s refused: %v", err)
	}
	cases["md5 for some parts only"] = func(o *MultipartOffer) int64 { o.Parts[1].MD5 = ""; return 10 }
	for name, mutate := range cases {
		o := good()
		size := mutate(o)
		if err := o.Check(size); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMultipartLimitsCheckPartSize(t *testing.T) {
	l := MultipartLimits{MinPartBytes: 5 << 20, MaxPartBytes: 5 << 30, MaxParts: 10000}
	if err := l.CheckPartSize(16<<20, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := l.CheckPartSize(1<<20, 1<<30); err == nil {
		t.Error("part below the minimum accepted")
	}
	if err := l.CheckPartSize(1<<20, 1<<19); err != nil {
		t.Errorf("one short part refused: %v", err)
	}
	if err := l.CheckPartSize(6<<30, 10<<30); err == nil {
		t.Error("part above the maximum accepted")
	}
	if err := l.CheckPartSize(5<<20, 100000<<20); err == nil {
		t.Error("too many parts accepted")
	}
	if got := (MultipartLimits{}).PartLimit(); got != MaxMultipartParts {
		t.Errorf("PartLimit() = %d", got)
	}
	if !(MultipartLimits{}).WantsPartMD5() || (MultipartLimits{PartChecksums: []string{"sha256"}}).WantsPartMD5() ||
		!(MultipartLimits{PartChecksums: []string{"md5", "sha256"}}).WantsPartMD5() {
		t.Error("WantsPartMD5")
	}
	if got := (MultipartLimits{MaxPartURLs: 50}).URLBatch(); got != 50 {
		t.Errorf("URLBatch() = %d", got)
	}
}

func TestPushPrepareMultipartAnswerRequired(t *testing.T) {
	ok := `{"ok":true,"type":"push.prepare.result","request_id":"r","finalize_token":"t",
	 "upload":{"method":"multipart"},
	 "multipart":{"upload_id":"u1","part_size":4,"part_count":3,
	   "uploaded":[{"part_number":1,"size_bytes":4,"sha256":"x"}],
	   "parts":[{"part_number":2,"method":"PUT","url":"https://s3.example/b/k?partNumber=2"}]}}`
	check := func(raw string) error {
		var v PushPrepareResponse
		if err := DecodeStrict([]byte(raw), &v); err != nil {
			t.Fatalf("decode: %v", err)
		}
		return CheckRequired([]byte(raw), &v)
	}
	if err := check(ok); err != nil {
		t.Fatalf("good answer refused: %v", err)
	}
	var v PushPrepareResponse
	json.Unmarshal([]byte(ok), &v)
	if v.Multipart.Parts[0].URL == "" || v.Multipart.Parts[0].Method != "PUT" {
		t.Fatalf("part target not decoded: %+v", v.Multipart.Parts[0])
	}
	bad := map[string]string{
		"no multipart object": `"multipart":{"upload_id":"u1"`,
		"part out of range":   `"part_number":2,"method"`,
		"duplicate uploaded":  `"uploaded":[{"part_number":1`,
		"no upload id":        `"upload_id":"u1"`,
	}
	repl := map[string]string{
		"no multipart object": `"nothing":{"upload_id":"u1"`,
		"part out of range":   `"part_number":4,"method"`,
		"duplicate uploaded":  `"uploaded":[{"part_number":1,"size_bytes":4},{"part_number":1`,
		"no upload id":        `"upload_id":""`,
	}
	for name, old := range bad {
		if err := check(strings.Replace(ok, old, repl[name], 1)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPushPartsRequestCheck(t *testing.T) {
	r := PushPartsRequest{FinalizeToken: "t", UploadID: "u", PartNumbers: []int{1, 2}}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]func(*PushPartsRequest){
		"nothing asked": func(r *PushPartsRequest) { r.PartNumbers = nil },
		"duplicate":     func(r *PushPartsRequest) { r.PartNumbers = []int{2, 2} },
		"zero part":     func(r *PushPartsRequest) { r.PartNumbers = []int{0} },
		"no upload id":  func(r *PushPartsRequest) { r.UploadID = "" },
		"no token":      func(r *PushPartsRequest) { r.FinalizeToken = "" },
	} {
		c := r
		c.PartNumbers = append([]int(nil), r.PartNumbers...)
		m(&c)
		if c.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	list := PushPartsRequest{FinalizeToken: "t", UploadID: "u", ListUploaded: true}
	if err := list.Check(); err != nil {
		t.Errorf("listing only refused: %v", err)
	}
}

func TestCapabilitiesMultipartShape(t *testing.T) {
	c := Capabilities{Name: "s3", DeployProtocolVersion: 1,
		Features: Features{PrepareFinalize: true, MultipartUpload: true},
		Limits:   Limits{Multipart: &MultipartLimits{ThresholdBytes: 64 << 20, MinPartBytes: 5 << 20, MaxPartBytes: 5 << 30, MaxParts: 10000}}}
	b, _ := json.Marshal(c)
	for _, want := range []string{`"multipart_upload":true`, `"multipart":{"threshold_bytes":67108864,"min_part_bytes":5242880`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("capabilities %s lack %s", b, want)
		}
	}
	// Without the feature, the existing tool's adapters and ours look alike.
	b, _ = json.Marshal(Capabilities{Name: "x"})
	if strings.Contains(string(b), "multipart") {
		t.Errorf("capabilities without the feature mention multipart: %s", b)
	}
}
