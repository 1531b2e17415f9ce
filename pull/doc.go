// Package pull implements the pull workflow, the mirror of package push: it
// asks a remote adapter where a pack is, downloads it into a temporary file
// beside the output, checks its size and file digest against what the
// adapter announced, verifies the whole pack, and only then moves it into
// place. An existing file is replaced only with Force and is never lost when
// anything fails. Each pull writes a receipt under
// .epack/receipts/pull/<remote>/.
package pull
