package eventual

// Version is the version of eventual, set at build time with
// -ldflags "-X github.com/eventual-pp/eventual.Version=...".
var Version = "dev"
