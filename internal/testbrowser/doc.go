// Package testbrowser starts headless Chromium (Debian's chromium
// package, driven with github.com/chromedp/chromedp) for the tests of
// pages eventual serves: the status page's own tests and the end-to-end
// test of /status against live processes. A test without Chromium is
// skipped, or fails when EVENTUAL_REQUIRE_BROWSER=1 (CI sets it, and
// .ci/run installs Chromium).
package testbrowser
