package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// MaxTxRecords is how many records the transaction page shows; the JSON
// API (api/records?tx=…) pages through all of them.
const MaxTxRecords = 1000

// txView is the transaction page.
type txView struct {
	base
	TxID        int64
	First, Last time.Time
	Actors      []string
	Tables      []string
	Records     int64
	Shown       int // < Records when the page shows only the first MaxTxRecords
	Metadata    []pair
	RevertOf    int64
	Groups      []groupView
	Plan        *plan
	CanRevert   bool
	User        string
}

type groupView struct {
	Query    string
	Table    string
	Records  []recView
	Cascades []recView
}

// txID reads the {id} of the path.
func txID(r *http.Request) (int64, error) { return parseID("transaction id", r.PathValue("id")) }

func (s *server) txPage(w http.ResponseWriter, r *http.Request) error {
	id, err := txID(r)
	if err != nil {
		return err
	}
	recs, err := trail.Log(r.Context(), s.db, trail.Filter{TxID: id, Limit: MaxTxRecords + 1}, s.trail...)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return errorf(http.StatusNotFound, "no records for transaction %d", id)
	}
	v := &txView{base: s.base(r, fmt.Sprintf("Transaction %d", id)), TxID: id, Records: int64(len(recs)),
		First: recs[0].OccurredAt, Last: recs[len(recs)-1].OccurredAt, Metadata: metaPairs(recs[0].Metadata),
		CanRevert: s.canRevert(r), User: s.user(r)}
	if len(recs) > MaxTxRecords {
		recs = recs[:MaxTxRecords]
		n, err := trail.Count(r.Context(), s.db, trail.Filter{TxID: id}, s.trail...)
		if err != nil {
			return err
		}
		v.Records, v.Shown, v.Last = n.Records, MaxTxRecords, time.Time{}
	}
	for _, rec := range recs {
		v.Actors = insertOnce(v.Actors, rec.Actor)
		v.Tables = insertOnce(v.Tables, rec.Table)
	}
	if n, ok := recs[0].Metadata[trail.RevertMetadataKey].(json.Number); ok {
		v.RevertOf, _ = n.Int64()
	}
	for _, g := range groupStatements(recs) {
		gv := groupView{Query: g.Query, Table: g.Table}
		for _, rec := range g.Records {
			gv.Records = append(gv.Records, viewRecord(v.Root, rec, nil))
		}
		for _, rec := range g.Cascades {
			gv.Cascades = append(gv.Cascades, viewRecord(v.Root, rec, nil))
		}
		v.Groups = append(v.Groups, gv)
	}
	if r.URL.Query().Get("plan") != "" {
		if v.Plan, err = s.plan(r, id); err != nil {
			return err
		}
	}
	s.render(w, r, http.StatusOK, "tx", v)
	return nil
}

// txJSON is the answer of /api/tx/{id}.
type txJSON struct {
	TxID       int64          `json:"tx_id"`
	Records    []trail.Record `json:"records"`
	Statements []stmtGroup    `json:"statements"`
}

// apiTx is one transaction: GET /api/tx/{id}.
func (s *server) apiTx(w http.ResponseWriter, r *http.Request) error {
	id, err := txID(r)
	if err != nil {
		return err
	}
	recs, err := trail.Transaction(r.Context(), s.db, id, s.trail...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, txJSON{TxID: id, Records: recs, Statements: groupStatements(recs)})
	return nil
}

// plan is a revert's dry run.
type plan struct {
	TxID       int64          `json:"tx_id"`
	Statements []planStmt     `json:"statements"`
	Conflicts  []planConflict `json:"conflicts"`
	Refused    string         `json:"refused,omitempty"` // why the transaction cannot be reverted at all
	Confirm    string         `json:"confirm"`           // what a revert passes back: the plan it confirms
	CanRevert  bool           `json:"can_revert"`        // this request may revert
}

type planStmt struct {
	SQL  string `json:"sql"`
	Args []any  `json:"args"`
}

type planConflict struct {
	Table    string    `json:"table"`
	Key      trail.Key `json:"key"`
	RecordID int64     `json:"record_id,omitempty"`
	Reason   string    `json:"reason"`
}

// plan runs the revert of transaction id as a dry run.
func (s *server) plan(r *http.Request, id int64) (*plan, error) {
	res, err := trail.Revert(r.Context(), s.db, id, trail.RevertOptions{DryRun: true}, s.trail...)
	p := &plan{TxID: id, Statements: []planStmt{}, Conflicts: []planConflict{}, CanRevert: s.canRevert(r)}
	var ce *trail.ConflictError
	switch {
	case errors.As(err, &ce):
		for _, c := range ce.Conflicts {
			p.Conflicts = append(p.Conflicts, planConflict{c.Table, c.Key, c.RecordID, c.Reason})
		}
	case errors.Is(err, trail.ErrRedacted):
		p.Refused = err.Error()
		p.CanRevert = false
	case err != nil:
		return nil, err
	}
	if res != nil {
		for _, st := range res.Statements {
			p.Statements = append(p.Statements, planStmt{st.SQL, st.Args})
		}
	}
	sum := sha256.Sum256([]byte(jsonText([]any{p.Statements, p.Conflicts, p.Refused})))
	p.Confirm = hex.EncodeToString(sum[:16])
	return p, nil
}

// apiPlan is a revert's dry run: GET /api/tx/{id}/plan.
func (s *server) apiPlan(w http.ResponseWriter, r *http.Request) error {
	id, err := txID(r)
	if err != nil {
		return err
	}
	p, err := s.plan(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// reverted is what a revert did.
type reverted struct {
	TxID       int64 `json:"reverted"`            // the reverted transaction
	RevertTx   int64 `json:"revert_tx,omitempty"` // the transaction that reverted it
	Statements int   `json:"statements"`
	Rows       int64 `json:"rows"`
}

// revert reverts transaction id as planned: confirm must be the plan's,
// and force is needed when rows changed after the transaction.
func (s *server) revert(r *http.Request, id int64, confirm string, force bool) (*reverted, error) {
	p, err := s.plan(r, id)
	switch {
	case err != nil:
		return nil, err
	case p.Refused != "":
		return nil, errorf(http.StatusConflict, "%s", p.Refused)
	case confirm == "":
		return nil, errorf(http.StatusBadRequest, "a revert needs the confirm value of its dry run (GET api/tx/%d/plan)", id)
	case confirm != p.Confirm:
		return nil, errorf(http.StatusConflict, "the revert plan of transaction %d changed since it was shown: look at the dry run again", id)
	case len(p.Conflicts) > 0 && !force:
		return nil, errorf(http.StatusConflict, "rows changed after transaction %d (see the dry run): confirm with force to overwrite them", id)
	}
	user := s.user(r)
	res, err := trail.Revert(sqlaudit.WithActor(r.Context(), user), s.db, id, trail.RevertOptions{Force: force}, s.trail...)
	if err != nil {
		return nil, err
	}
	out := &reverted{TxID: id, Statements: len(res.Statements), Rows: res.Rows}
	recs, err := trail.Log(r.Context(), s.db, trail.Filter{Actor: user, Metadata: map[string]string{trail.RevertMetadataKey: strconv.FormatInt(id, 10)},
		NewestFirst: true, Limit: 1}, s.trail...)
	if err == nil && len(recs) == 1 {
		out.RevertTx = recs[0].TxID
	}
	return out, nil
}

// revertForm is the confirmed revert of the transaction page: POST
// tx/{id}/revert, then to the revert's own transaction.
func (s *server) revertForm(w http.ResponseWriter, r *http.Request) error {
	id, err := txID(r)
	if err != nil {
		return err
	}
	if r.PostFormValue("sure") != "yes" {
		return errorf(http.StatusBadRequest, "tick the box that confirms the revert of transaction %d", id)
	}
	done, err := s.revert(r, id, r.PostFormValue("confirm"), r.PostFormValue("force") == "yes")
	if err != nil {
		return err
	}
	next := strconv.FormatInt(id, 10)
	if done.RevertTx != 0 {
		next = strconv.FormatInt(done.RevertTx, 10)
	}
	// relative to …/tx/{id}/revert, so that it works under any prefix
	w.Header().Set("Location", "../"+next+"?reverted="+strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusSeeOther)
	return nil
}

// apiRevert reverts: POST /api/tx/{id}/revert with {"confirm": …,
// "force": false} (JSON or form fields).
func (s *server) apiRevert(w http.ResponseWriter, r *http.Request) error {
	id, err := txID(r)
	if err != nil {
		return err
	}
	var body struct {
		Confirm string `json:"confirm"`
		Force   bool   `json:"force"`
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
			return errorf(http.StatusBadRequest, "bad JSON body: %v (want {\"confirm\": \"…\", \"force\": false})", err)
		}
	} else {
		body.Confirm, body.Force = r.PostFormValue("confirm"), r.PostFormValue("force") == "yes" || r.PostFormValue("force") == "true"
	}
	done, err := s.revert(r, id, body.Confirm, body.Force)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, done)
	return nil
}

// insertOnce appends s unless the list has it.
func insertOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
