package retry

import (
	"math/rand/v2"
	"time"
)

// Policy bounds retries. Zero fields take the values of Default.
type Policy struct {
	Attempts int           // total attempts including the first (default 5)
	Base     time.Duration // first backoff ceiling (default 500ms)
	Max      time.Duration // backoff ceiling (default 30s)
}

// Default fills the zero fields of a Policy.
var Default = Policy{Attempts: 5, Base: 500 * time.Millisecond, Max: 30 * time.Second}

// MaxAfter caps how long a server's Retry-After can make us wait, so a
// hostile or confused server cannot park a push for hours.
const MaxAfter = 60 * time.Second

// withDefaults replaces zero fields by Default's and keeps Max >= Base.
func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = Default.Attempts
	}
	if p.Base <= 0 {
		p.Base = Default.Base
	}
	if p.Max <= 0 {
		p.Max = Default.Max
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	return p
}

// backoff picks the full-jitter wait that follows attempt (counted from 1):
// uniform in [0, min(Max, Base·2^(attempt-1))].
func (p Policy) backoff(attempt int) time.Duration {
	ceil := p.Base
	for i := 1; i < attempt && ceil < p.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.Max)
	return rand.N(ceil + 1)
}
