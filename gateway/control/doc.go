// Package control is getvpnd's control socket: an HTTP+JSON API on a unix
// socket (/run/getvpnd/control.sock by default) that getctl, the bench and
// other tooling read the daemon's state and events through.
package control
