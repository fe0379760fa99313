// Stand-in for 'k6/execution': the iteration number the runner is on.
export default {
  scenario: {
    get iterationInTest() {
      return globalThis.__iteration;
    },
  },
};
