// Ends the run with one plain line that any CI can read: "tests: N passed, N failed, N skipped".
'use strict';

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    process.stderr.write(
      `tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`
    );
  }
}

module.exports = SummaryReporter;
