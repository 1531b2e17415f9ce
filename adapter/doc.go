// Package adapter is the SDK for writing remote adapters (epack-remote-<name>
// programs speaking Remote Adapter Protocol v1). Serve handles
// --capabilities, decodes and checks each request, calls the Handler and
// writes a well-formed response or error answer, exiting non-zero on error.
// It uses the message types of package remote, so an SDK adapter and the
// epack host cannot disagree on the wire (COMPAT W25).
package adapter
