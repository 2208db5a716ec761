import { checkBuildIsCurrent } from './build';

/** Jest's global set-up of the integration tests: they run the build, so it must be that of the sources. */
export default function integrationSetup(): void {
  checkBuildIsCurrent();
}
