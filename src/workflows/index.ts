export { upgradePlatform } from './upgrade-platform';
export { unlockDeployment } from './unlock-deployment';
