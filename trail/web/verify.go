package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// verifyView is the verify page: the seal status, and a verify run.
type verifyView struct {
	base
	Seal     trail.SealStatus
	SealTx   int64 // the transaction of the newest sealed record
	Head     string
	Result   *verifyResult
	BadRecTx int64 // the transaction of the first bad record, when it still exists
}

// verifyResult is what sqlaudit.Verify found.
type verifyResult struct {
	OK       bool             `json:"ok"`
	Checked  int64            `json:"checked"`  // sealed records verified
	Unsealed int64            `json:"unsealed"` // records not sealed yet
	Head     sqlaudit.Head    `json:"head"`
	Tamper   *tamperJSON      `json:"tampered,omitempty"`
	Seal     trail.SealStatus `json:"seal"`
}

type tamperJSON struct {
	Seq      int64  `json:"seq"`
	RecordID int64  `json:"record_id,omitempty"`
	Reason   string `json:"reason"`
}

func (s *server) verifyPage(w http.ResponseWriter, r *http.Request) error {
	v := &verifyView{base: s.base(r, "Verify"), Head: strings.TrimSpace(r.URL.Query().Get("head"))}
	v.Nav = "verify"
	var err error
	if r.URL.Query().Get("run") != "" {
		if v.Result, err = s.verify(r); err != nil {
			return err
		}
		v.Seal = v.Result.Seal
		if t := v.Result.Tamper; t != nil && t.RecordID > 0 {
			v.BadRecTx = s.txOf(r, t.RecordID)
		}
	} else if v.Seal, err = trail.Seals(r.Context(), s.db, s.trail...); err != nil {
		return err
	}
	if v.Seal.RecordID > 0 {
		v.SealTx = s.txOf(r, v.Seal.RecordID)
	}
	s.render(w, r, http.StatusOK, "verify", v)
	return nil
}

// txOf is the transaction of a record, 0 when it is gone.
func (s *server) txOf(r *http.Request, id int64) int64 {
	recs, err := trail.Log(r.Context(), s.db, trail.Filter{AfterID: id - 1, Limit: 1}, s.trail...)
	if err != nil || len(recs) == 0 || recs[0].ID != id {
		return 0
	}
	return recs[0].TxID
}

// verify runs sqlaudit.Verify, with the head parameter (SEQ:HASH, as
// sqlaudit seal prints it) when given.
func (s *server) verify(r *http.Request) (*verifyResult, error) {
	var opts sqlaudit.VerifyOptions
	if h := strings.TrimSpace(r.URL.Query().Get("head")); h != "" {
		seq, hash, ok := strings.Cut(h, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || len(hash) != 64 {
			return nil, errorf(http.StatusBadRequest, "bad head %q: want SEQ:HASH as sqlaudit seal prints it", h)
		}
		opts.Head = &sqlaudit.Head{Seq: n, Hash: hash}
	}
	seal, err := trail.Seals(r.Context(), s.db, s.trail...)
	if err != nil {
		return nil, err
	}
	out := &verifyResult{Seal: seal}
	if !seal.Sealed && opts.Head == nil {
		out.OK, out.Unsealed = true, seal.Newer // nothing to verify yet
		return out, nil
	}
	rep, err := sqlaudit.Verify(r.Context(), s.db, opts)
	var te *sqlaudit.TamperError
	switch {
	case errors.As(err, &te):
		out.Tamper = &tamperJSON{Seq: te.Seq, RecordID: te.RecordID, Reason: te.Reason}
	case err != nil:
		return nil, err
	default:
		out.OK = true
	}
	out.Checked, out.Unsealed, out.Head = rep.Checked, rep.Unsealed, rep.Head
	return out, nil
}

// apiSeal is the seal status: GET /api/seal.
func (s *server) apiSeal(w http.ResponseWriter, r *http.Request) error {
	st, err := trail.Seals(r.Context(), s.db, s.trail...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// apiVerify verifies the trail: GET /api/verify[?head=SEQ:HASH]. A
// tampered trail is a result (200, "ok": false), not an error.
func (s *server) apiVerify(w http.ResponseWriter, r *http.Request) error {
	res, err := s.verify(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
