export { upgradePlatform } from './upgrade-platform';
