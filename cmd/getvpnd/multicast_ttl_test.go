package main

import (
	"testing"

	"github.com/getlab/getlab/gateway/config"
)

// The rekey socket's TTL is 16 unless a group speaks gdoid (64, fact 11 of
// the gdoid corpus).
func TestMulticastTTL(t *testing.T) {
	cfg := &config.Config{Groups: []config.Group{{InteropProfile: "rfc"}}}
	if got := multicastTTL(cfg); got != 16 {
		t.Errorf("rfc: TTL %d", got)
	}
	cfg.Groups = append(cfg.Groups, config.Group{InteropProfile: "gdoid"})
	if got := multicastTTL(cfg); got != 64 {
		t.Errorf("rfc + gdoid: TTL %d", got)
	}
}
