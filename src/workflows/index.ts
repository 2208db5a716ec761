export { upgradePlatform } from './upgrade-platform';
export { unlockDeployment } from './unlock-deployment';
export { upgradeFleet } from './upgrade-fleet';
export { upgradeComponent } from './upgrade-component';
