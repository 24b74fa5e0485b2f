// Package ent is the ent client of the integration tests, generated from
// ./schema. The generated code is committed: CI does not generate.
//
// ent's documented `go run -mod=mod entgo.io/ent/cmd/ent` does not build in
// this module: the root module requires github.com/olekukonko/tablewriter
// v1, whose API cmd/ent (written for v0.0.5) does not compile against. The
// generator is therefore run as its own module, at the version go.mod pins.
package ent

//go:generate go run entgo.io/ent/cmd/ent@v0.14.5 generate --feature sql/upsert ./schema
